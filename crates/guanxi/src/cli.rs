//! The command line: every command and flag, with the help text users read.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// guanxi (关系): the customer relationship manager for online shops.
///
/// Import your shop's orders and customers (Taobao/Tmall, Shopify, generic CSV), and
/// know who your customers are and what each is worth.
#[derive(Debug, Parser)]
#[command(name = "guanxi", version, propagate_version = true)]
#[command(after_help = "Examples:
  guanxi demo                                  load a demo shop into ./guanxi-demo.db
  guanxi import orders --format taobao 订单报表.csv
  guanxi import orders --format cdnow testdata/cdnow/CDNOW_master.txt --json
  guanxi --database-url postgres://guanxi@127.0.0.1/guanxi status")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The SQLite store file [default: ./guanxi.db; ./guanxi-demo.db for `demo`]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// A PostgreSQL store instead of a file: postgres://user:password@host/database
    #[arg(
        long,
        global = true,
        env = "GUANXI_DATABASE_URL",
        value_name = "URL",
        conflicts_with = "db"
    )]
    pub database_url: Option<String>,

    /// Where the Parquet copy of order history lives [default: beside the store file,
    /// `NAME.lake`; ./guanxi.lake with PostgreSQL]
    #[arg(long, global = true, env = "GUANXI_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,

    /// The shop's time zone, for times without an offset [default: the store's setting,
    /// else Asia/Shanghai]; saved in the store when given
    #[arg(long, global = true, value_name = "IANA")]
    pub time_zone: Option<String>,

    /// The settings file (TOML) with the thresholds of every class [default: ./guanxi.toml
    /// when it exists; the documented defaults otherwise]
    #[arg(long, global = true, env = "GUANXI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print exactly one JSON document on stdout (progress and logs go to stderr)
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a demo shop (a maternal-and-baby store over two years) and load it.
    ///
    /// Deterministic from --seed. Until the web server exists, prints a summary and exits.
    #[command(after_help = "Examples:
  guanxi demo
  guanxi demo --customers 1000000 --no-serve
  guanxi demo --customers 1000 --export-csv demo-csv/   (CSV files instead of a store)")]
    Demo(DemoArgs),

    /// Import orders, customers, service records or reviews from files.
    ///
    /// All or nothing: on bad input nothing is written and every problem is listed as
    /// file:line:column. Re-importing a file changes nothing.
    #[command(after_help = "Examples:
  guanxi import orders --format generic orders.csv
  guanxi import orders --format shopify orders_export_1.csv orders_export_2.csv
  guanxi import orders --format taobao --encoding gbk ExportOrderList.csv
  guanxi import customers customers.csv --skip-bad-rows rejects.csv
  guanxi import products products.csv keywords.csv")]
    Import(ImportArgs),

    /// Export the store's records in guanxi's own CSV formats.
    Export(ExportArgs),

    /// The Parquet copy of order history that analytics reads.
    #[command(subcommand)]
    Lake(LakeCommand),

    /// How many customers, orders and lines the store holds, and the lake's files.
    Status,

    /// Serve the web UI (dashboard, customers, reports, programs) and run the engagement
    /// engine (scheduler and workers, restarted if it fails)
    #[command(after_help = "Examples:
  guanxi serve
  guanxi --db guanxi-demo.db serve --addr 127.0.0.1:8080")]
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Requests a minute each API token may make (a burst of that many, refilled)
        #[arg(long, default_value_t = 600, env = "GUANXI_TOKEN_REQUESTS", value_name = "N")]
        token_requests: u32,
        /// Requests a minute each client address may make
        #[arg(long, default_value_t = 3000, env = "GUANXI_ADDRESS_REQUESTS", value_name = "N")]
        address_requests: u32,
    },

    /// One customer: contacts, consent, every class with the rule and figures behind it;
    /// merging records of one person.
    #[command(subcommand, visible_alias = "customers")]
    Customer(CustomerCommand),

    /// Segments: who matches an expression over profiles and behaviour; saved segments.
    #[command(subcommand)]
    Segment(SegmentCommand),

    /// Reports over the profile builds.
    #[command(subcommand)]
    Report(ReportCommand),

    /// Predicting customers' futures: fit BG/NBD, MBG/NBD, Pareto/NBD or Gamma-Gamma.
    #[command(subcommand)]
    Clv(ClvCommand),

    /// Engagement programs (payment reminders, care, second purchase, …).
    #[command(subcommand)]
    Program(ProgramCommand),

    /// Service tasks that program steps created for staff (e.g. a parcel stuck for 72
    /// hours: call the carrier): list them, close them.
    #[command(subcommand, visible_alias = "tasks")]
    Task(TaskCommand),

    /// Campaigns with a holdout: create from a plan, launch (the snapshot of who is in,
    /// where and why), list, members
    #[command(subcommand)]
    Campaign(CampaignCommand),

    /// Members' points: a balance with its lots and history, adjustments, redemptions,
    /// earning from orders, expiry, and the proof of every balance from the ledger
    #[command(subcommand, visible_alias = "members")]
    Member(MemberCommand),

    /// Coupons: those programs, tier benefits and campaigns issued (and by which order
    /// each was redeemed), one issued by hand, redemptions matched with the orders
    #[command(subcommand, visible_alias = "coupons")]
    Coupon(CouponCommand),

    /// Staff who sign in to the web UI and the API: add them, list them.
    #[command(subcommand, visible_alias = "users")]
    User(UserCommand),

    /// API tokens: make one for a user (shown once), list them, revoke one.
    #[command(subcommand, visible_alias = "tokens")]
    Token(TokenCommand),

    /// A person's rights over their data (PIPL, GDPR): export everything the shop holds
    /// about them, or erase their personal data (the books keep their orders' money).
    #[command(subcommand)]
    Privacy(PrivacyCommand),

    /// The audit log: every user added, sign-in and failed sign-in, merge, program
    /// change and closed task — who, what, when, from where.
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Benchmarks that print figures (not tests).
    #[command(subcommand)]
    Bench(BenchCommand),

    /// Customer profiles: every measure and class of every buyer, as of a date.
    #[command(subcommand)]
    Profile(ProfileCommand),

    /// The settings in force: every threshold of the customer classes.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many customers (orders follow from their behaviour)
    #[arg(long, default_value_t = 20_000)]
    pub customers: u64,

    /// The seed: the same seed gives the same shop
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Where to serve the web UI
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Load and exit without serving
    #[arg(long)]
    pub no_serve: bool,

    /// Write orders.csv, customers.csv, service.csv and reviews.csv here instead of loading
    #[arg(long, value_name = "DIR")]
    pub export_csv: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKind {
    Orders,
    Customers,
    Service,
    Reviews,
    /// The product catalogue: products (sku,title,category,unit_cost) and keyword rules
    /// (keyword,category), each file known by its header. It fills order lines' missing
    /// category, title and cost, for the orders stored and those imported later
    Products,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// guanxi's CSV, one row per order line (see the README)
    Generic,
    /// Shopify admin "Export orders"
    Shopify,
    /// Taobao/Tmall seller-centre order export (UTF-8 or GBK)
    Taobao,
    /// The CDNOW data set (master or sample file)
    Cdnow,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the files hold
    pub kind: ImportKind,

    /// The files, imported together as one unit
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The files' layout (orders only; other kinds use guanxi's CSV)
    #[arg(long, value_enum, default_value = "generic")]
    pub format: FormatArg,

    /// The namespace of the files' ids [default: the format's name]. Use the same source
    /// for a shop's orders and its customers.
    #[arg(long)]
    pub source: Option<String>,

    /// auto, utf-8 or gbk [default: auto for taobao, utf-8 otherwise]
    #[arg(long)]
    pub encoding: Option<String>,

    /// Read a file of another layout (an ERP export, a purchase log) through guanxi's
    /// generic fields: `order_id=InvoiceNo,customer_id=CustomerID,ordered_at=InvoiceDate,
    /// sku=StockCode,title=Description,quantity=Quantity,unit_price=UnitPrice`. Columns
    /// not mapped are not read; without order_id each row is an order; negative
    /// quantities are returns
    #[arg(long, value_name = "FIELD=COLUMN,…")]
    pub map: Option<String>,

    /// Amounts are written with a decimal comma (12,50 or 1.234,50). Without it a comma
    /// separates thousands, in groups of three, and `12,50` is an error
    #[arg(long)]
    pub decimal_comma: bool,

    /// Import the good rows and write the bad ones, with their reason, to this CSV
    #[arg(long, value_name = "REJECTS.csv")]
    pub skip_bad_rows: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    Orders,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export
    pub kind: ExportKind,
    /// The CSV file to write
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Regenerate the whole lake from the store
    Rebuild,
    /// Drop superseded order versions and merge small files
    Compact,
    /// Files, rows and orders in the lake
    Stats,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings in force (the file's values over the defaults) as TOML
    Show,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Compute every customer's measures and classes, store them as the current build
    /// (recording every class change since the previous build) and print the distribution
    #[command(after_help = "Examples:
  guanxi profile build
  guanxi profile build --as-of 1998-06-30 --json")]
    Build {
        /// The date to compute as of (the end of that day, shop time) [default: the last
        /// order's time]. Nothing reads the clock: the same data and date give the same result.
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user with a role; the password is read from standard input (one line)
    #[command(
        after_help = "Roles: admin (everything), marketer (segments, programs, reports; no contacts),
agent (customer 360, tasks; contacts masked), analyst (reports and segments; no contacts).
There is no default user: add the first admin here.

Examples:
  guanxi user add ann --role admin < ann-password.txt
  printf '%s\\n' \"$PASSWORD\" | guanxi user add bob --role agent"
    )]
    Add {
        /// The name they sign in with (no spaces)
        name: String,
        /// admin, marketer, agent or analyst
        #[arg(long)]
        role: String,
    },
    /// Every user with their role
    List,
    /// Disable a user: their sessions end and they cannot sign in again (the audit log
    /// keeps their name)
    #[command(after_help = "Examples:
  guanxi user disable bob")]
    Disable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for a user; its secret is printed once and never stored
    #[command(
        after_help = "Scopes (each within the user's role): read-reports, segments, read-customer,
reveal-contact, export-customers, programs, tasks, administer.

Examples:
  guanxi token create --user ann --name crm-sync --scope read-reports,segments --days 90
  curl -H \"Authorization: Bearer gx_…\" 'http://127.0.0.1:8080/api/segment/count?q=tier%20%3D%20%27vip%27'"
    )]
    Create {
        /// The user the token acts as
        #[arg(long)]
        user: String,
        /// What it is for (shown in the list and the audit log)
        #[arg(long)]
        name: String,
        /// Comma-separated capabilities
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// How many days it lasts (at most 365)
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Every token (never their secrets)
    List {
        /// One user's tokens
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id (as the list shows it)
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Everything about a person as JSON (audited)
    #[command(after_help = "Examples:
  guanxi privacy export jon@example.com --source shopify --out jon.json
  guanxi privacy export C0000042 --source demo")]
    Export {
        /// The customer's id in its source
        id: String,
        #[arg(long, default_value = "generic")]
        source: String,
        /// Write here (standard output when absent)
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Erase a person's personal data, in the store and the lake (audited; cannot be undone)
    #[command(after_help = "Examples:
  guanxi privacy erase jon@example.com --source shopify --yes")]
    Erase {
        /// The customer's id in its source
        id: String,
        #[arg(long, default_value = "generic")]
        source: String,
        /// Confirms the erasure (it cannot be undone)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The audit log, oldest first
    #[command(after_help = "Examples:
  guanxi audit list --since 2026-11-01
  guanxi audit list --json --limit 50")]
    List {
        /// From the start of this day (shop time) on
        #[arg(long, value_name = "YYYY-MM-DD")]
        since: Option<String>,
        /// At most this many lines
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

/// A member: their customer number, or their id in a source with --source.
#[derive(Debug, clap::Args)]
pub struct MemberId {
    /// The customer's number (as lists show it), or with --source their id there
    pub customer: String,
    /// The source of the id [default: the customer's number]
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CouponCommand {
    /// Coupons issued, newest first, with their state (open, redeemed by an order,
    /// expired)
    #[command(after_help = "Examples:
  guanxi coupon list --customer 42
  guanxi coupon list --source birthday-holiday-care --limit 100
  guanxi coupon list --code GX-7K2MQ-9XD4R --json")]
    List {
        /// A customer's number
        #[arg(long)]
        customer: Option<i64>,
        /// What issued them: a program (`second-purchase`, `campaign:618`), `manual:NAME`
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        code: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Issue a coupon to a customer by hand (audited)
    #[command(after_help = "Examples:
  guanxi coupon issue 42 BIRTHDAY
  guanxi coupon issue C0000042 --source demo FREE-SHIPPING --key complaint-118")]
    Issue {
        #[command(flatten)]
        who: MemberId,
        /// The coupon's definition ([coupons.NAME] in the settings)
        coupon: String,
        /// Makes a repeated request issue once [default: each run issues one]
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        actor: Option<String>,
    },
    /// Match open coupons with the paid orders that name their codes (imports and live
    /// order events do this themselves)
    Redeem,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// A member's balance, lots (earned, remaining, expiry) and every event
    #[command(after_help = "Examples:
  guanxi member show 42
  guanxi member show C0000042 --source demo --json")]
    Show {
        #[command(flatten)]
        who: MemberId,
    },
    /// A manual adjustment with its reason (positive: a lot; negative: taken like a
    /// redemption, into a recorded debt beyond the balance)
    #[command(after_help = "Examples:
  guanxi member adjust 42 200 --reason \"goodwill: parcel lost\"
  guanxi member adjust 42 -50 --reason \"points given twice by hand\" --reference FIX-7")]
    Adjust {
        #[command(flatten)]
        who: MemberId,
        #[arg(allow_negative_numbers = true)]
        points: i64,
        /// Why (kept in the ledger with who did it)
        #[arg(long)]
        reason: String,
        /// What makes it unique: the same reference twice is one adjustment [default:
        /// a new one each time]
        #[arg(long)]
        reference: Option<String>,
        /// Who adjusts, for the ledger [default: $USER]
        #[arg(long)]
        actor: Option<String>,
    },
    /// Spend points: taken from the lots that expire first; refused beyond the balance
    #[command(after_help = "Examples:
  guanxi member redeem 42 100 --reference ORDER-88")]
    Redeem {
        #[command(flatten)]
        who: MemberId,
        points: u64,
        /// The shop's order or voucher that spent them (the same reference twice is one
        /// redemption)
        #[arg(long)]
        reference: String,
        #[arg(long)]
        actor: Option<String>,
    },
    /// Post what orders paid or refunded in a window earn and give back (each order
    /// once, however often it is run)
    #[command(after_help = "Examples:
  guanxi member earn --from 2026-01-01
  guanxi member earn --from 2026-06-01 --to 2026-07-01")]
    Earn {
        /// The window's first day [default: 2000-01-01: every order]
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<String>,
        /// The day after the window [default: now]
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<String>,
    },
    /// Expire the lots whose day has come, once per period (a second run of the same
    /// period changes nothing)
    #[command(after_help = "Examples:
  guanxi member expire
  guanxi member expire --period 2026-12 --now 2026-12-01")]
    Expire {
        /// The period it runs for [default: this month, YYYY-MM]
        #[arg(long)]
        period: Option<String>,
        /// Expire as of this day [default: now]
        #[arg(long, value_name = "YYYY-MM-DD")]
        now: Option<String>,
    },
    /// Evaluate every member's tier from their paid orders (up at the qualifying order,
    /// down only at the yearly evaluation, warned 30 days before) and record the changes
    /// and warnings not recorded yet
    #[command(after_help = "Examples:
  guanxi member evaluate
  guanxi member evaluate --now 2027-01-10")]
    Evaluate {
        /// Evaluate as of this day [default: now]
        #[arg(long, value_name = "YYYY-MM-DD")]
        now: Option<String>,
    },
    /// The points liability: outstanding points and their value, debt, what expires in
    /// the month ahead, and the breakage the shop's own history predicts
    #[command(after_help = "Examples:
  guanxi member liability
  guanxi member liability --now 2026-12-31 --json")]
    Liability {
        /// As of this day [default: now]
        #[arg(long, value_name = "YYYY-MM-DD")]
        now: Option<String>,
    },
    /// Rebuild every balance from the ledger's events and report any difference from
    /// the stored movements (exit 1 when there is one)
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign from its plan (TOML: goal window, waves, audiences by
    /// precedence with their holdout share and variants); checked, audited
    #[command(after_help = "Examples:
  guanxi campaign create double-11.toml")]
    Create {
        /// The plan file
        plan: std::path::PathBuf,
        /// Who creates it, for the audit trail [default: $USER]
        #[arg(long)]
        actor: Option<String>,
    },
    /// Before launch: each audience's size as it would be drawn now, the share that
    /// bought in a window as long before, and the smallest lift the split can detect
    #[command(after_help = "Examples:
  guanxi campaign preview double-11")]
    Preview { name: String },
    /// Launch a campaign: snapshot its members (each in the first audience that holds
    /// them, drawn into a variant or the holdout by the campaign's seed, with why)
    #[command(after_help = "Examples:
  guanxi campaign launch double-11")]
    Launch {
        name: String,
        /// Who launches it, for the audit trail [default: $USER]
        #[arg(long)]
        actor: Option<String>,
    },
    /// Every campaign, the newest first
    List,
    /// What a launched campaign earned: per audience × variant, per wave and in total, treated
    /// against the holdout — conversion and profit per head lifts with 95 % intervals,
    /// incremental profit, ROI, the split's check, and a verdict the intervals support
    #[command(after_help = "Examples:
  guanxi campaign report double-11
  guanxi --json campaign report double-11")]
    Report { name: String },
    /// The members a launch chose and why, by customer number
    #[command(after_help = "Examples:
  guanxi campaign members double-11 --limit 20")]
    Members {
        name: String,
        /// Start after this customer number
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many
        #[arg(long, default_value_t = 200)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// The open tasks, the earliest due first
    #[command(after_help = "Examples:
  guanxi task list
  guanxi task list --all --json
  guanxi task list --customer C0000042 --source demo")]
    List {
        /// Closed tasks too
        #[arg(long)]
        all: bool,
        /// One customer's tasks (its id in its source)
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        /// The source of --customer (as given to the import)
        #[arg(long, default_value = "generic")]
        source: String,
        /// At most this many
        #[arg(long, default_value_t = 200)]
        limit: u32,
    },
    /// Close a task (audited on the customer)
    #[command(after_help = "Examples:
  guanxi task done 42/order-care/stuck/1001")]
    Done {
        /// The task's key, as `guanxi task list` shows it
        key: String,
        /// Who closes it, for the audit trail [default: $USER]
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Show a customer's profile and why they are in each class
    #[command(after_help = "Examples:
  guanxi --db guanxi-demo.db customer show C0000042 --source demo
  guanxi customer show 00002 --source cdnow --as-of 1998-06-30 --json")]
    Show {
        /// The customer's id in its source
        id: String,
        /// The source of the id (as given to the import)
        #[arg(long, default_value = "generic")]
        source: String,
        /// Compute as of this date instead of showing the stored build
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<String>,
    },
    /// Customers sharing a normalised mobile number or email: proposed as one person
    Duplicates {
        /// At most this many pairs
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Merge MERGED into KEPT: one person, the most restrictive consent per channel (audited)
    #[command(after_help = "Examples:
  guanxi customers merge C0000042 C0000977 --source demo")]
    Merge {
        /// The customer that stays (its id in its source)
        kept: String,
        /// The customer merged into it
        merged: String,
        #[arg(long, default_value = "generic")]
        source: String,
        /// Who does it, for the audit trail [default: $USER]
        #[arg(long)]
        actor: Option<String>,
    },
    /// Write every profiled customer (or a segment's members) to a CSV: contacts, consent,
    /// tags and every class, measure and forecast of the current build — what a marketer
    /// uploads elsewhere
    #[command(after_help = "Examples:
  guanxi customers export --csv all.csv
  guanxi customers export --segment vip-at-risk --csv vip.csv
  guanxi customers export --segment \"lifecycle = 'decline'\" --csv decline.csv --masked")]
    Export {
        /// A segment expression or a saved segment's name [default: every profiled customer]
        #[arg(long, value_name = "EXPR-or-NAME")]
        segment: Option<String>,
        /// The CSV file to write (written whole or not at all)
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Mask mobile numbers, e-mails and other contacts (138****5678)
        #[arg(long)]
        masked: bool,
    },
    /// Undo the merge of MERGED, restoring the kept customer's consent as it was (audited)
    Unmerge {
        merged: String,
        #[arg(long, default_value = "generic")]
        source: String,
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SegmentCommand {
    /// How many customers match
    #[command(after_help = "Examples:
  guanxi segment count \"lifecycle = 'decline' and tier in ('vip', 'major')\"
  guanxi segment count \"bought(category = 'diapers', within = 90d) >= 2 and not received(within = 14d)\"
  guanxi segment count vip-at-risk")]
    Count {
        /// An expression, or the name of a saved segment
        expr: String,
    },
    /// The matching customers, in id order
    List {
        expr: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Start after this internal customer id (paging)
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// The expression as a tree with each condition's count; with --customer, which held
    Explain {
        expr: String,
        /// A customer's id in its source
        #[arg(long)]
        customer: Option<String>,
        #[arg(long, default_value = "generic")]
        source: String,
    },
    /// Save (or replace) a named segment
    Save {
        name: String,
        expr: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a saved segment
    Delete { name: String },
    /// The saved segments with their counts
    Saved,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Class changes between builds: the movement matrix per class kind
    #[command(after_help = "Examples:
  guanxi report movements
  guanxi report movements --since 2026-06-01 --json
  guanxi report movements --csv > movements.csv")]
    Movements {
        /// Only builds as of after this date
        #[arg(long, value_name = "YYYY-MM-DD")]
        since: Option<String>,
        /// One row per (kind, from, to) as CSV
        #[arg(long)]
        csv: bool,
    },

    /// The shop's orders per period, guest orders included: created, paid, closed,
    /// refunded, amounts, payment and refund rates
    #[command(after_help = "Examples:
  guanxi report orders --period month
  guanxi report orders --period year --csv > orders.csv")]
    Orders {
        #[arg(long, value_enum, default_value = "month")]
        period: PeriodArg,
        #[arg(long)]
        csv: bool,
    },

    /// Repurchase rate per period: customers with ≥ 2 paid orders among those with ≥ 1
    #[command(after_help = "Examples:
  guanxi report repurchase --period quarter
  guanxi report repurchase --as-of 2026-06-30 --period month --csv > repurchase.csv")]
    Repurchase(OrderReportArgs),

    /// Per category and period: its buyers and the share who bought it only once
    Categories(OrderReportArgs),

    /// Per period: of the previous period's buyers, the share who bought again
    Retention(OrderReportArgs),

    /// The cohort matrix: customers by first-purchase month, active in each month since
    Cohorts(OrderReportArgs),

    /// Purchase cycles: the shop's and each category's median days between orders
    Cycles(OrderReportArgs),

    /// Per class of every kind in the current build: customers, paid amount, profit, CLV
    #[command(after_help = "Examples:
  guanxi report classes
  guanxi report classes --kind tier --json")]
    Classes {
        /// Only this kind (relationship, activity, lifecycle, quadrant, pricing, tier, rfm8, rfm11)
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        csv: bool,
    },

    /// Review ratings (DSR), complaints per 100 paid orders, service satisfaction
    Satisfaction {
        /// Up to the end of this day [default: the last order's day]
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<String>,
        #[arg(long)]
        csv: bool,
    },

    /// The current build's customers by predicted CLV
    Clv {
        #[arg(long)]
        csv: bool,
    },
}

/// What every report over paid orders takes.
#[derive(Debug, Args)]
pub struct OrderReportArgs {
    /// Orders paid up to the end of this day [default: the last order's day]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// How time is split
    #[arg(long, value_enum, default_value = "quarter")]
    pub period: PeriodArg,
    /// Print the table as CSV (with a header row) instead of text or JSON
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    Bgnbd,
    Mbgnbd,
    Pnbd,
    Gg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnitArg {
    Day,
    Week,
}

#[derive(Debug, Subcommand)]
pub enum ClvCommand {
    /// Fit a model to the paid orders up to the calibration end (same-day orders merged)
    #[command(after_help = "Examples:
  guanxi clv fit --model bgnbd
  guanxi clv fit --model pnbd --unit week --calibration-end 1997-09-30 --json")]
    Fit {
        #[arg(long, value_enum, default_value = "bgnbd")]
        model: ModelArg,
        /// The time unit of the parameters
        #[arg(long, value_enum, default_value = "week")]
        unit: UnitArg,
        /// The end of the calibration period [default: the last order's day]
        #[arg(long, value_name = "YYYY-MM-DD")]
        calibration_end: Option<String>,
    },

    /// Fit on a calibration period, predict the holdout period, compare with what
    /// customers did: in total and by calibration frequency 0..7+
    #[command(after_help = "Examples:
  guanxi clv validate --calibration-end 1997-09-30 --holdout-end 1998-06-30
  guanxi clv validate --calibration-end 2026-06-30 --holdout-end 2026-09-30 --model pnbd --json")]
    Validate {
        #[arg(long, value_name = "YYYY-MM-DD")]
        calibration_end: String,
        #[arg(long, value_name = "YYYY-MM-DD")]
        holdout_end: String,
        /// The purchase model [default: the settings' predict.model]
        #[arg(long, value_enum)]
        model: Option<PurchaseModelArg>,
        /// The time unit [default: the settings' predict.unit]
        #[arg(long, value_enum)]
        unit: Option<UnitArg>,
    },

    /// Each customer's forecast as of a day: P(alive), expected purchases, expected
    /// spend, CLV, next purchase; the customers worth most first
    #[command(after_help = "Examples:
  guanxi clv predict --top 10
  guanxi clv predict --customer 00004 --as-of 1997-09-30 --months 12 --discount-rate 0.01")]
    Predict {
        /// Forecast as of the end of this day [default: the last order's day]
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<String>,
        /// Only this customer (their id in its source)
        #[arg(long)]
        customer: Option<String>,
        /// The source of --customer's id (as given to the import)
        #[arg(long, default_value = "generic")]
        source: String,
        /// How many customers, by CLV
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long, value_enum)]
        model: Option<PurchaseModelArg>,
        #[arg(long, value_enum)]
        unit: Option<UnitArg>,
        /// Expected purchases over this many days [default: predict.horizon_days]
        #[arg(long)]
        horizon_days: Option<u32>,
        /// CLV over this many months [default: predict.clv_months]
        #[arg(long)]
        months: Option<u32>,
        /// Discount rate per month [default: predict.discount_rate]
        #[arg(long)]
        discount_rate: Option<f64>,
    },
}

/// The models that predict purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PurchaseModelArg {
    Bgnbd,
    Mbgnbd,
    Pnbd,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time the profile build over N order lines, and DuckDB's RFM + pyramid subset on the
    /// same Parquet files when the duckdb Python package is importable
    #[command(after_help = "Examples:
  guanxi bench profile --orders 1000000
  guanxi bench profile --orders 10000000 --dir /var/tmp/guanxi-bench")]
    Profile {
        /// Order lines to generate (the demo shop, about 12.5 lines per customer)
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Where the generated store and lake live (reused when present)
        #[arg(long, default_value = "guanxi-bench")]
        dir: PathBuf,
        /// The DuckDB script [default: bench/profile_duckdb.py beside the current directory]
        #[arg(long, default_value = "bench/profile_duckdb.py")]
        duckdb_script: PathBuf,
    },
    /// Fit times of each prediction model on customers simulated from BG/NBD, and of
    /// lifetimes on the same rows when the lifetimes Python package is importable
    #[command(after_help = "Examples:
  guanxi bench clv --customers 1000000
  guanxi bench clv --customers 1000000 --lifetimes-models bgnbd")]
    Clv {
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
        /// The lifetimes script
        #[arg(long, default_value = "bench/clv_lifetimes.py")]
        lifetimes_script: PathBuf,
        /// Which models lifetimes fits (its Pareto/NBD takes minutes at a million)
        #[arg(long, value_delimiter = ',', default_value = "bgnbd,pnbd")]
        lifetimes_models: Vec<String>,
    },
    /// A scheduler pass with the seven built-in programs enabled over the shop `guanxi bench
    /// profile` generated: each program's first pass and the steady pass after it, timed
    #[command(after_help = "Examples:
  guanxi bench profile --orders 1000000 && guanxi bench schedule
  guanxi bench schedule --dir /var/tmp/guanxi-bench")]
    Schedule {
        /// Where `guanxi bench profile` generated the shop (the programs run on a copy
        /// in it, schedule.db, so that every run starts with an empty outbox)
        #[arg(long, default_value = "guanxi-bench")]
        dir: PathBuf,
        /// The programs are enabled this many days before the shop's last order
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Messages per second from the outbox to a local HTTP sink: queue N messages, then
    /// workers claim, judge, render, send and settle them (SQLite in --dir, or the
    /// PostgreSQL of --database-url)
    #[command(after_help = "Examples:
  guanxi bench outbox --messages 50000
  guanxi --database-url postgres://guanxi@127.0.0.1:5433/bench bench outbox")]
    Outbox {
        #[arg(long, default_value_t = 50_000)]
        messages: u64,
        /// Where the SQLite store is made (emptied first)
        #[arg(long, default_value = "guanxi-bench-outbox")]
        dir: PathBuf,
        /// Messages claimed per batch
        #[arg(long, default_value_t = 1000)]
        batch: u32,
        /// Sends in flight per worker
        #[arg(long, default_value_t = 64)]
        concurrency: u16,
        /// Workers at once (tasks of this process)
        #[arg(long, default_value_t = 2)]
        workers: u16,
    },

    /// `guanxi member verify` over a generated ledger of N members (three earnings, a
    /// redemption, one in ten a refund): the time to write it and to prove every balance
    #[command(after_help = "Examples:
  guanxi bench points --members 100000
  guanxi bench points --members 1000000 --dir /var/tmp/guanxi-points")]
    Points {
        #[arg(long, default_value_t = 1_000_000)]
        members: u64,
        /// Where the SQLite store is made (emptied first)
        #[arg(long, default_value = "guanxi-bench-points")]
        dir: PathBuf,
    },

    /// A big shop end to end: generate (or reuse) a file of single-line orders in time
    /// order, then time the import, the re-import, the profile build, every page and live
    /// count through a running server (each step its own process, with its peak memory),
    /// and DuckDB's read_csv of the same file when the duckdb Python package is importable
    #[command(after_help = "Examples:
  guanxi bench big --customers 100000 --orders 1000000
  guanxi bench big --customers 1000000 --orders 10000000 --dir /var/tmp/guanxi-big")]
    Big {
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        #[arg(long, default_value_t = 10_000_000)]
        orders: u64,
        /// Where the file, the store and the lake are made (the file is reused)
        #[arg(long, default_value = "guanxi-bench-big")]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProgramCommand {
    /// The programs guanxi knows: the seven built-ins and the store's own, with their
    /// triggers, steps and whether each is enabled
    #[command(after_help = "Examples:
  guanxi program list
  guanxi program list --json")]
    List,

    /// Enable a program: a built-in by name, or your own definition from a TOML file.
    /// Only what happens from --since on starts runs: enabling never messages history.
    #[command(after_help = "Examples:
  guanxi program enable payment-reminder
  guanxi program enable my-welcome.toml
  guanxi program enable second-purchase --since 2026-11-01")]
    Enable {
        /// A built-in program's name, or a .toml file with a definition
        program: String,
        /// Triggers from this moment count [default: now]
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },

    /// Stop a program: nothing more is queued, and its queued messages are dropped when
    /// a worker takes them
    Disable { name: String },

    /// Run the scheduler and workers until nothing more is due, then exit (`guanxi serve`
    /// does the same continuously)
    #[command(after_help = "Examples:
  guanxi program run
  guanxi program run --now '2026-06-30 18:00'   (replay at a moment: tests, catching up)")]
    Run {
        /// The clock to schedule and send by [default: now]
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// How long a claimed message stays with this worker if it dies, in seconds
        #[arg(long, default_value_t = 60)]
        lease_secs: u32,
        /// Messages claimed at once
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },

    /// What each program sent: messages per step and status, clicks, and conversions
    /// (a paid order within the attribution window after the message)
    Stats {
        /// One program [default: all]
        name: Option<String>,
        /// The attribution window in days
        #[arg(long, default_value_t = 7)]
        window_days: u32,
    },

    /// Replay history as if a program had been enabled: who would have entered, messages
    /// per day and channel, and what the contact policy would have deferred or dropped.
    /// Writes nothing.
    #[command(
        name = "dry-run",
        after_help = "Examples:
  guanxi program dry-run payment-reminder --from 2026-06-01 --to 2026-06-30
  guanxi program dry-run my-welcome.toml --from 2026-01-01 --to 2026-03-31 --json"
    )]
    DryRun {
        /// A built-in program's name, a stored program, or a .toml file
        program: String,
        #[arg(long, value_name = "DATE")]
        from: String,
        #[arg(long, value_name = "DATE")]
        to: String,
    },
}
