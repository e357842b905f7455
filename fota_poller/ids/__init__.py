"""Which campaigns to poll: id lists, discovery by status, merged sources, the set seen."""
