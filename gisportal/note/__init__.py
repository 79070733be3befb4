"""The urban-information note: built from the zoning, rendered (JSON, HTML, PDF), issued, sealed and
registered; the parcel history and the situation plan."""
