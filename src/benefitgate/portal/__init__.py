"""The reference benefits portal: a page on `/portal` for the account of a frontend token,
built from one GraphQL document whose fragments the page's panels each own."""
