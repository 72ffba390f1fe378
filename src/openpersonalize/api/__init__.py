"""The wire layer: routing, validation against botocore's models, AWS-shaped responses."""
