"""`make bench-net`: the production profile's tiers as separate hosts in network namespaces."""
