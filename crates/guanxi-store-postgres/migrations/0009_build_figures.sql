-- What the pages show of a build (class totals, CLV distribution, satisfaction as of its
-- moment), computed once as the build is stored: JSON of guanxi_store::BuildFigures.
-- NULL for builds stored before: their figures are computed from the profiles.
ALTER TABLE profile_builds ADD COLUMN figures TEXT;
