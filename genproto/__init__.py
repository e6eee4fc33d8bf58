"""Generated gRPC code (scripts/genproto.sh). Never edit by hand."""
