from rs_assets.cli import main

main()
