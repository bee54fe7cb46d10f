-- Each build's forecasts on the profile (issue 4): NULL where no model was fitted or the
-- person bought nothing.
ALTER TABLE profiles ADD COLUMN p_alive REAL;
ALTER TABLE profiles ADD COLUMN expected_purchases REAL;
ALTER TABLE profiles ADD COLUMN clv_cents BIGINT;
ALTER TABLE profiles ADD COLUMN next_purchase_at TEXT;
-- Who is worth most: the UI's and campaigns' first question.
CREATE INDEX profiles_clv ON profiles (clv_cents);
