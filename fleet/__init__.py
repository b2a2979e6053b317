"""Fleet: vehicles and their telematics, chargers at hubs, charging sessions and smart plans."""
