"""What a day, a ValCover window or a session means at a station, and staging it to S3 in parallel."""
