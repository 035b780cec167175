//! Search parameters → a typed [`Query`], and whether a resource matches it.
//!
//! Parameters follow FHIR R4 search: repeated parameters AND, comma-separated values OR;
//! strings match case- and accent-insensitively from the start (`:exact`, `:contains`); tokens
//! are `code`, `system|code`, `|code` or `system|`; `_lastUpdated` takes the prefixes `eq`,
//! `ge`, `gt`, `le`, `lt` on a date or date-time. An unknown or unsupported parameter is an
//! error (`handling=strict`, the default) or ignored and left out of the `self` link
//! (`Prefer: handling=lenient`).

use super::map::{days_from_civil, key_of_id};
use super::model::{CodeableConcept, Identifier, Resource};
use crate::store::StoredRecord;

/// The resource types the directory searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// Professionals.
    Practitioner,
    /// Exercises.
    PractitionerRole,
    /// FINESS structures.
    Organization,
    /// Authorised care activities.
    HealthcareService,
}

impl ResourceType {
    /// From the URL segment.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Practitioner" => Some(Self::Practitioner),
            "PractitionerRole" => Some(Self::PractitionerRole),
            "Organization" => Some(Self::Organization),
            "HealthcareService" => Some(Self::HealthcareService),
            _ => None,
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Practitioner => "Practitioner",
            Self::PractitionerRole => "PractitionerRole",
            Self::Organization => "Organization",
            Self::HealthcareService => "HealthcareService",
        }
    }

    /// The search parameters of this type (besides the common ones).
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            Self::Practitioner => &[
                "identifier",
                "identifier-type",
                "family",
                "given",
                "name",
                "qualification-code",
                "mailbox-mss",
                "number-smartcard",
                "data-information-system",
                "data-registration-authority",
            ],
            Self::PractitionerRole => &["practitioner", "organization", "role"],
            Self::Organization => &[
                "identifier",
                "identifier-type",
                "name",
                "address-city",
                "address-postalcode",
                "type",
                "partof",
                "mailbox-mss",
                "data-information-system",
            ],
            Self::HealthcareService => &[
                "identifier",
                "organization",
                "service-type",
                "service-category",
                "characteristic",
            ],
        }
    }

    /// `_include` values this type supports.
    pub fn includes(self) -> &'static [&'static str] {
        match self {
            Self::PractitionerRole => &[
                "PractitionerRole:practitioner",
                "PractitionerRole:organization",
            ],
            Self::Organization => &["Organization:partof"],
            Self::HealthcareService => &["HealthcareService:organization"],
            Self::Practitioner => &[],
        }
    }

    /// `_revinclude` values this type supports.
    pub fn revincludes(self) -> &'static [&'static str] {
        match self {
            Self::Practitioner => &["PractitionerRole:practitioner"],
            Self::Organization => &[
                "PractitionerRole:organization",
                "HealthcareService:organization",
            ],
            Self::PractitionerRole | Self::HealthcareService => &[],
        }
    }
}

/// Parameters every type takes.
pub const COMMON: &[&str] = &["_id", "_lastUpdated", "active"];

/// Result parameters.
pub const RESULT: &[&str] = &[
    "_count",
    "_summary",
    "_include",
    "_revinclude",
    "_page",
    "_format",
    "_total",
    "_elements",
];

/// Default page size (as Annuaire Santé's).
pub const DEFAULT_COUNT: usize = 50;
/// Largest page; a larger `_count` is lowered to it.
pub const MAX_COUNT: usize = 500;

/// A token value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// `None`: any system; `Some("")`: no system (`|code`).
    pub system: Option<String>,
    /// `None`: any code (`system|`).
    pub code: Option<String>,
}

impl Token {
    fn parse(v: &str) -> Self {
        match v.split_once('|') {
            None => Self {
                system: None,
                code: Some(v.to_owned()),
            },
            Some((s, c)) => Self {
                system: Some(s.to_owned()),
                code: (!c.is_empty()).then(|| c.to_owned()),
            },
        }
    }

    /// Whether a value of `system` and `code` is one this token asks for.
    pub fn matches(&self, system: Option<&str>, code: Option<&str>) -> bool {
        let system_ok = match self.system.as_deref() {
            None => true,
            Some("") => system.is_none(),
            Some(s) => system == Some(s),
        };
        system_ok && self.code.as_deref().is_none_or(|c| code == Some(c))
    }
}

/// How a string parameter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrMatch {
    /// Starts with, ignoring case and accents (the default).
    Start,
    /// Equal, case and accents included (`:exact`).
    Exact,
    /// Contains, ignoring case and accents (`:contains`).
    Contains,
}

/// Which string a string parameter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrField {
    /// `family`.
    Family,
    /// `given`.
    Given,
    /// `name`: family or given names (Practitioner), name (Organization).
    Name,
    /// `address-city`.
    City,
    /// `address-postalcode`.
    PostalCode,
}

/// Which reference a reference parameter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefField {
    /// `PractitionerRole.practitioner`.
    Practitioner,
    /// `PractitionerRole.organization`, `HealthcareService.providedBy`.
    Organization,
    /// `Organization.partOf`.
    PartOf,
}

/// A time range `[from, to)` in seconds, and how `_lastUpdated` compares with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeCmp {
    /// Within the range.
    Eq(i64, i64),
    /// At or after its start.
    Ge(i64),
    /// After its end.
    Gt(i64),
    /// Before its end.
    Le(i64),
    /// Before its start.
    Lt(i64),
}

/// Which codes of a HealthcareService a token parameter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCode {
    /// `service-type`: the activity (`type`).
    Type,
    /// `service-category`: the modality (`category`).
    Category,
    /// `characteristic`: the form.
    Characteristic,
}

/// One search criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `_id`: record keys.
    Id(Vec<String>),
    /// `identifier`.
    Identifier(Vec<Token>),
    /// `identifier-type`: the type of one of the identifiers (`RPPS`, `FINEG`…).
    IdentifierType(Vec<Token>),
    /// `service-type`, `service-category`, `characteristic` (HealthcareService).
    ServiceCode(ServiceCode, Vec<Token>),
    /// `type` (Organization) or `role` (PractitionerRole, over its codes).
    Code(Vec<Token>),
    /// A string parameter.
    Str(StrField, StrMatch, Vec<String>),
    /// A reference parameter: logical ids.
    Ref(RefField, Vec<String>),
    /// `active`.
    Active(bool),
    /// `_lastUpdated`.
    LastUpdated(TimeCmp),
    /// `qualification-code` (Practitioner): the HTTP shell turns it into [`Filter::Id`]
    /// from the exercises and qualifications that carry the code.
    QualificationCode(Vec<Token>),
    /// `mailbox-mss`: the HTTP shell turns it into [`Filter::Id`] from the mailboxes' owners
    /// (Practitioner) or structures (Organization).
    Mailbox(Vec<String>),
    /// `number-smartcard` (Practitioner): card numbers starting with one of these (folded);
    /// the HTTP shell turns it into [`Filter::Id`] from the cards' holders.
    SmartCard(Vec<String>),
    /// `data-information-system`: the information system of the data trace.
    InformationSystem(Vec<Token>),
    /// `data-registration-authority` (Practitioner): a registration authority of one of its
    /// exercises; the HTTP shell turns it into [`Filter::Id`] from the exercises' owners.
    RegistrationAuthority(Vec<Token>),
}

/// `_include` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// `PractitionerRole:practitioner`.
    RolePractitioner,
    /// `PractitionerRole:organization`.
    RoleOrganization,
    /// `Organization:partof`.
    OrganizationPartOf,
    /// `HealthcareService:organization`.
    ServiceOrganization,
}

/// `_revinclude` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevInclude {
    /// `PractitionerRole:practitioner` (on Practitioner).
    RolesOfPractitioner,
    /// `PractitionerRole:organization` (on Organization).
    RolesAtOrganization,
    /// `HealthcareService:organization` (on Organization).
    ServicesAtOrganization,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What is searched.
    pub resource: ResourceType,
    /// All must match.
    pub filters: Vec<Filter>,
    /// Page size.
    pub count: usize,
    /// `_summary=count`: only the total.
    pub summary_count: bool,
    /// `_total=accurate` (or `estimate`): the total with the page.
    pub total: bool,
    /// `_elements`: the elements the matches keep (all when empty).
    pub elements: Vec<String>,
    /// Included targets.
    pub include: Vec<Include>,
    /// Included referrers.
    pub revinclude: Vec<RevInclude>,
    /// The paging cursor as given (`_page`), checked by [`super::page`].
    pub page: Option<String>,
    /// The parameters kept, sorted, without `_page`: the `self` link and what a cursor is
    /// bound to.
    pub canonical: Vec<(String, String)>,
}

/// Why a search is refused (HTTP 400, OperationOutcome `invalid` or `not-supported`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A malformed value.
    #[error("{0}")]
    Invalid(String),
    /// A parameter the server does not support.
    #[error("{0}")]
    NotSupported(String),
}

impl QueryError {
    /// The OperationOutcome issue code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::NotSupported(_) => "not-supported",
        }
    }
}

/// Unknown parameters: refused or ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Refused (400), the default.
    Strict,
    /// Ignored (`Prefer: handling=lenient`).
    Lenient,
}

impl Handling {
    /// From the `Prefer` header.
    pub fn of_prefer(prefer: Option<&str>) -> Self {
        let lenient = prefer.is_some_and(|p| {
            p.split([',', ';'])
                .any(|x| x.trim().eq_ignore_ascii_case("handling=lenient"))
        });
        if lenient { Self::Lenient } else { Self::Strict }
    }
}

fn invalid(s: String) -> QueryError {
    QueryError::Invalid(s)
}

/// Parses the (decoded) query parameters of a search on `resource`.
pub fn parse(
    resource: ResourceType,
    params: &[(String, String)],
    handling: Handling,
) -> Result<Query, QueryError> {
    let mut q = Query {
        resource,
        filters: vec![],
        count: DEFAULT_COUNT,
        summary_count: false,
        total: false,
        elements: vec![],
        include: vec![],
        revinclude: vec![],
        page: None,
        canonical: vec![],
    };
    for (raw_name, value) in params {
        let (name, modifier) = match raw_name.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (raw_name.as_str(), None),
        };
        let known = COMMON.contains(&name)
            || RESULT.contains(&name)
            || resource.parameters().contains(&name);
        if !known {
            match handling {
                Handling::Lenient => continue,
                Handling::Strict => {
                    return Err(QueryError::NotSupported(format!(
                        "unknown or unsupported search parameter {raw_name:?} for {}",
                        resource.as_str()
                    )));
                }
            }
        }
        let is_string = matches!(
            name,
            "family" | "given" | "name" | "address-city" | "address-postalcode"
        );
        let str_match = match (modifier, is_string) {
            (None, _) => StrMatch::Start,
            (Some("exact"), true) => StrMatch::Exact,
            (Some("contains"), true) => StrMatch::Contains,
            (Some(m), _) => {
                return Err(QueryError::NotSupported(format!(
                    "modifier :{m} is not supported on {name}"
                )));
            }
        };
        let values: Vec<String> = value
            .split(',')
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        if values.is_empty() && name != "_page" {
            return Err(invalid(format!("parameter {raw_name} has no value")));
        }
        let filter = match name {
            "_id" => Some(Filter::Id(
                values
                    .iter()
                    .map(|v| key_of_id(v).ok_or_else(|| invalid(format!("{v:?} is not an id"))))
                    .collect::<Result<_, _>>()?,
            )),
            "identifier" => Some(Filter::Identifier(
                values.iter().map(|v| Token::parse(v)).collect(),
            )),
            "type" | "role" => Some(Filter::Code(
                values.iter().map(|v| Token::parse(v)).collect(),
            )),
            "identifier-type" => Some(Filter::IdentifierType(
                values.iter().map(|v| Token::parse(v)).collect(),
            )),
            "service-type" | "service-category" | "characteristic" => {
                let field = match name {
                    "service-type" => ServiceCode::Type,
                    "service-category" => ServiceCode::Category,
                    _ => ServiceCode::Characteristic,
                };
                Some(Filter::ServiceCode(
                    field,
                    values.iter().map(|v| Token::parse(v)).collect(),
                ))
            }
            "family" => Some(Filter::Str(StrField::Family, str_match, values)),
            "given" => Some(Filter::Str(StrField::Given, str_match, values)),
            "name" => Some(Filter::Str(StrField::Name, str_match, values)),
            "address-city" => Some(Filter::Str(StrField::City, str_match, values)),
            "address-postalcode" => Some(Filter::Str(StrField::PostalCode, str_match, values)),
            "practitioner" | "organization" | "partof" => {
                let field = match name {
                    "practitioner" => RefField::Practitioner,
                    "organization" => RefField::Organization,
                    _ => RefField::PartOf,
                };
                let target = if field == RefField::Practitioner {
                    "Practitioner/"
                } else {
                    "Organization/"
                };
                let ids = values
                    .iter()
                    .map(|v| {
                        let id = v.strip_prefix(target).unwrap_or(v);
                        key_of_id(id)
                            .map(|_| id.to_owned())
                            .ok_or_else(|| invalid(format!("{v:?} is not a reference")))
                    })
                    .collect::<Result<_, _>>()?;
                Some(Filter::Ref(field, ids))
            }
            "active" => Some(Filter::Active(match value.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(invalid(format!(
                        "active must be true or false, not {value:?}"
                    )));
                }
            })),
            "_lastUpdated" => Some(Filter::LastUpdated(parse_last_updated(value)?)),
            "qualification-code" => Some(Filter::QualificationCode(
                values.iter().map(|v| Token::parse(v)).collect(),
            )),
            "mailbox-mss" => Some(Filter::Mailbox(
                values.iter().map(|v| v.to_ascii_lowercase()).collect(),
            )),
            "number-smartcard" => Some(Filter::SmartCard(
                values.iter().map(|v| fold(v.trim())).collect(),
            )),
            "data-information-system" => Some(Filter::InformationSystem(
                values.iter().map(|v| Token::parse(v)).collect(),
            )),
            "data-registration-authority" => Some(Filter::RegistrationAuthority(
                values.iter().map(|v| Token::parse(v)).collect(),
            )),
            "_count" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| invalid(format!("_count must be a number, not {value:?}")))?;
                if n == 0 {
                    q.summary_count = true;
                }
                q.count = n.clamp(1, MAX_COUNT);
                None
            }
            "_summary" => {
                match value.as_str() {
                    "count" => q.summary_count = true,
                    "false" => {}
                    _ => {
                        return Err(QueryError::NotSupported(format!(
                            "_summary={value} is not supported (count and false are)"
                        )));
                    }
                }
                None
            }
            "_total" => {
                q.total = match value.as_str() {
                    "accurate" | "estimate" => true,
                    "none" => false,
                    _ => {
                        return Err(invalid(format!(
                            "_total must be none, estimate or accurate, not {value:?}"
                        )));
                    }
                };
                None
            }
            "_elements" => {
                q.elements
                    .extend(super::elements::parse(value).map_err(invalid)?);
                None
            }
            "_format" => {
                if !matches!(
                    value.as_str(),
                    "json" | "application/fhir+json" | "application/json"
                ) {
                    return Err(QueryError::NotSupported(format!(
                        "_format={value}: only JSON is served"
                    )));
                }
                None
            }
            "_include" => {
                for v in &values {
                    q.include.push(
                        match (resource.includes().contains(&v.as_str()), v.as_str()) {
                            (true, "PractitionerRole:practitioner") => Include::RolePractitioner,
                            (true, "PractitionerRole:organization") => Include::RoleOrganization,
                            (true, "Organization:partof") => Include::OrganizationPartOf,
                            (true, "HealthcareService:organization") => {
                                Include::ServiceOrganization
                            }
                            _ => {
                                return Err(QueryError::NotSupported(format!(
                                    "_include={v} is not supported on {}",
                                    resource.as_str()
                                )));
                            }
                        },
                    );
                }
                None
            }
            "_revinclude" => {
                for v in &values {
                    q.revinclude.push(
                        match (resource.revincludes().contains(&v.as_str()), v.as_str()) {
                            (true, "PractitionerRole:practitioner") => {
                                RevInclude::RolesOfPractitioner
                            }
                            (true, "PractitionerRole:organization") => {
                                RevInclude::RolesAtOrganization
                            }
                            (true, "HealthcareService:organization") => {
                                RevInclude::ServicesAtOrganization
                            }
                            _ => {
                                return Err(QueryError::NotSupported(format!(
                                    "_revinclude={v} is not supported on {}",
                                    resource.as_str()
                                )));
                            }
                        },
                    );
                }
                None
            }
            "_page" => {
                if q.page.replace(value.clone()).is_some() {
                    return Err(invalid("_page given twice".into()));
                }
                continue;
            }
            _ => None,
        };
        if let Some(f) = filter {
            q.filters.push(f);
        }
        q.canonical.push((raw_name.clone(), value.clone()));
    }
    q.canonical.sort();
    q.include.dedup();
    q.revinclude.dedup();
    Ok(q)
}

fn digits<const N: usize>(s: &str) -> Option<i64> {
    (s.len() == N && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A FHIR `date` or `dateTime` as the range of seconds it denotes.
pub fn parse_date_range(v: &str) -> Option<(i64, i64)> {
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let mut parts = date.split('-');
    let y = digits::<4>(parts.next()?)?;
    let m = parts.next().map(digits::<2>);
    let d = parts.next().map(digits::<2>);
    if parts.next().is_some() {
        return None;
    }
    let check_m = |m: i64| (1..=12).contains(&m).then_some(m as u32);
    let day = |y: i64, m: u32, d: u32| days_from_civil(y, m, d) * 86_400;
    match (m, d, time) {
        (None, None, None) => Some((day(y, 1, 1), day(y + 1, 1, 1))),
        (Some(m), None, None) => {
            let m = check_m(m?)?;
            let end = if m == 12 {
                day(y + 1, 1, 1)
            } else {
                day(y, m + 1, 1)
            };
            Some((day(y, m, 1), end))
        }
        (Some(m), Some(d), time) => {
            let m = check_m(m?)?;
            let d = d?;
            let start = day(y, m, 1) + (d - 1) * 86_400;
            let next_month = if m == 12 {
                day(y + 1, 1, 1)
            } else {
                day(y, m + 1, 1)
            };
            if !(1..=31).contains(&d) || start >= next_month {
                return None;
            }
            let Some(t) = time else {
                return Some((start, start + 86_400));
            };
            let (clock, offset) = if let Some(c) = t.strip_suffix('Z') {
                (c, 0)
            } else {
                let i = t.rfind(['+', '-'])?;
                let (c, o) = t.split_at(i);
                let (oh, om) = o[1..].split_once(':')?;
                let secs = digits::<2>(oh)? * 3600 + digits::<2>(om)? * 60;
                (c, if o.starts_with('-') { -secs } else { secs })
            };
            let clock = clock.split('.').next()?;
            let mut hms = clock.split(':');
            let h = digits::<2>(hms.next()?)?;
            let mi = digits::<2>(hms.next()?)?;
            let s = hms.next().map(digits::<2>).unwrap_or(Some(0))?;
            if hms.next().is_some() || h > 23 || mi > 59 || s > 59 {
                return None;
            }
            let at = start + h * 3600 + mi * 60 + s - offset;
            Some((at, at + 1))
        }
        _ => None,
    }
}

fn parse_last_updated(v: &str) -> Result<TimeCmp, QueryError> {
    let (prefix, rest) = match v.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &v[2..]),
        _ => ("eq", v),
    };
    let (from, to) = parse_date_range(rest).ok_or_else(|| {
        invalid(format!(
            "_lastUpdated: {v:?} is not a FHIR date or dateTime"
        ))
    })?;
    Ok(match prefix {
        "ge" => TimeCmp::Ge(from),
        "gt" => TimeCmp::Gt(to),
        "le" => TimeCmp::Le(to),
        "lt" => TimeCmp::Lt(from),
        _ => TimeCmp::Eq(from, to),
    })
}

/// Lower case without the accents of French text, for string search.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' | 'ì' => 'i',
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ÿ' => 'y',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .collect()
}

impl Query {
    /// Whether a stored record, mapped to `res`, is a match.
    pub fn matches(&self, s: &StoredRecord, res: &Resource) -> bool {
        self.filters.iter().all(|f| f.matches(s, res))
    }

    /// The query string of the kept parameters, form-encoded, with `extra` appended.
    pub fn query_string(&self, extra: Option<(&str, &str)>) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.canonical {
            ser.append_pair(k, v);
        }
        if let Some((k, v)) = extra {
            ser.append_pair(k, v);
        }
        ser.finish()
    }
}

#[path = "query_match.rs"]
mod matching;
pub use matching::codes_match;

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
