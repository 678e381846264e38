"""The local stack: moto server, tables, seed data, and Chalice's local server with an API Gateway
emulation that gives the same Gateway Responses as the deployed template. Never deployed."""
