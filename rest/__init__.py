"""The REST door: thin compatibility URLs under /accounts/api/ with the shapes of the
former djangorestframework-simplejwt endpoints, and their OpenAPI description. Each view
parses input, calls a flow and shapes output."""
