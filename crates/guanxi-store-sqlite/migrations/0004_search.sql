-- The customers page's search (issue 5): a name prefix is an index range. External ids,
-- mobile numbers and emails are indexed already.
CREATE INDEX customers_name ON customers (name) WHERE name IS NOT NULL;
