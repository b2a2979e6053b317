"""The fleet's REST API: telematics ingest for devices, vehicles, sessions and plans for staff."""
