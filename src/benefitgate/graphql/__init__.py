"""The GraphQL surface: schema assembly, context, loaders, errors and the HTTP view."""
