//! Who may do what: the staff's roles and what each may reach (docs/domain.md is silent;
//! these are a serious CRM's defaults). A CRM holds people's phone numbers and
//! addresses, so a role sees contacts only when its work needs them.

names! {
    /// A member of staff's role.
    pub enum Role {
        /// Everything, including users, settings and the audit log.
        Admin = "admin",
        /// Segments, programs and campaigns; reports; no contacts.
        Marketer = "marketer",
        /// Customer 360, service records and tasks, contacts masked (one revealed at a
        /// time, with a reason, audited).
        Agent = "agent",
        /// Reports and segments; no contacts.
        Analyst = "analyst",
    }
}

names! {
    /// What a page, an endpoint or a command does, as far as access is concerned.
    pub enum Capability {
        /// Dashboards and reports (figures, never a person's contacts).
        ReadReports = "read-reports",
        /// Count and list segments' members (ids and classes), save segments.
        Segments = "segments",
        /// One customer's 360 (contacts masked).
        ReadCustomer = "read-customer",
        /// Reveal one customer's contact, with a reason (audited).
        RevealContact = "reveal-contact",
        /// Export customers (contacts masked unless the role sees them).
        ExportCustomers = "export-customers",
        /// Enable, disable and preview programs.
        Programs = "programs",
        /// Create and launch campaigns (their reports are reports).
        Campaigns = "campaigns",
        /// Service tasks and records.
        Tasks = "tasks",
        /// Members' points (adjust, redeem) and coupons issued by hand.
        Members = "members",
        /// Users, tokens, settings, the audit log, privacy export and erasure.
        Administer = "administer",
    }
}

impl Role {
    /// Whether the role may do `c`.
    pub fn may(self, c: Capability) -> bool {
        use Capability::*;
        match self {
            Role::Admin => true,
            Role::Marketer => matches!(c, ReadReports | Segments | ExportCustomers | Programs | Campaigns),
            Role::Agent => matches!(c, ReadCustomer | RevealContact | Tasks | Members),
            Role::Analyst => matches!(c, ReadReports | Segments),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, so that a change to it is a change to this test.
    #[test]
    fn each_role_reaches_what_its_work_needs_and_nothing_else() {
        let table: Vec<(Role, Vec<&str>)> = Role::ALL
            .iter()
            .map(|r| {
                let can = Capability::ALL
                    .iter()
                    .filter(|c| r.may(**c))
                    .map(|c| c.as_str())
                    .collect();
                (*r, can)
            })
            .collect();
        assert_eq!(
            table,
            vec![
                (
                    Role::Admin,
                    vec![
                        "read-reports",
                        "segments",
                        "read-customer",
                        "reveal-contact",
                        "export-customers",
                        "programs",
                        "campaigns",
                        "tasks",
                        "members",
                        "administer"
                    ]
                ),
                (
                    Role::Marketer,
                    vec!["read-reports", "segments", "export-customers", "programs", "campaigns"]
                ),
                (Role::Agent, vec!["read-customer", "reveal-contact", "tasks", "members"]),
                (Role::Analyst, vec!["read-reports", "segments"]),
            ]
        );
        assert_eq!(Role::parse("marketer"), Ok(Role::Marketer));
        assert!(Role::parse("root").is_err());
    }
}
