"""Talking to OData stations: the query builder and capability profiles, the client, credentials, the entity models and the sensor cursor."""
