"""Couriers: self-onboarding, vetting, availability, performance, pay rules and payouts."""
