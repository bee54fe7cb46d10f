-- The customers page's search (issue 5): a name prefix is an index range, compared
-- bytewise as SQLite does (a linguistic collation's order does not keep a prefix's names
-- together). External ids, mobile numbers and emails are indexed already.
CREATE INDEX customers_name ON customers (name COLLATE "C") WHERE name IS NOT NULL;
