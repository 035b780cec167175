//! Which criterion of a search drives it (pure): the one whose index rows give the fewest
//! candidates, as a lookup the store answers in the index's order, with the other criteria the
//! index answers as conditions on the same records (so that a search by family and given name
//! reads only the records with both). Every candidate is checked against the whole query
//! afterwards ([`super::query::Query::matches`]), so a lookup may find more than its criteria
//! accept (`:exact` looks up the folded prefix) but never less.

use super::map::key_of_id;
use super::query::{Filter, Query, RefField, ResourceType, StrField, StrMatch, Token, fold};
use crate::index;
use crate::store::search::{Lookup, Names, Value};

/// Where a search's candidates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// Records by key (`_id`, or the owners `qualification-code` and `mailbox-mss` found).
    Keys(Vec<String>),
    /// Index rows.
    Index(Lookup),
    /// Practitioners by family and given name, family name by family name.
    Names(Names),
}

fn tokens(ts: &[Token]) -> Option<Vec<Value>> {
    ts.iter()
        .map(|t| {
            t.code.clone().map(|code| Value::Token {
                system: t.system.clone(),
                code,
            })
        })
        .collect()
}

fn references(ids: &[String], as_keys: bool) -> Vec<Value> {
    ids.iter()
        .map(|id| Value::Token {
            system: Some(String::new()),
            code: if as_keys {
                key_of_id(id).unwrap_or_else(|| id.clone())
            } else {
                id.clone()
            },
        })
        .collect()
}

/// The lookup of one criterion, when the index answers it.
fn lookup(resource: ResourceType, f: &Filter) -> Option<(u8, Driver)> {
    use ResourceType::*;
    let index = |rank: u8, params: Vec<&'static str>, values: Vec<Value>| {
        Some((rank, Driver::Index(Lookup::of(params, values))))
    };
    match f {
        Filter::Id(keys) => Some((0, Driver::Keys(keys.clone()))),
        Filter::Identifier(ts) => index(1, vec![index::IDENTIFIER], tokens(ts)?),
        Filter::Ref(field, ids) => {
            let (param, as_keys) = match field {
                RefField::Practitioner => (index::OWNER, true),
                RefField::Organization => (index::ORGANIZATION, false),
                RefField::PartOf => (index::PART_OF, false),
            };
            index(2, vec![param], references(ids, as_keys))
        }
        Filter::Str(field, how, values) => {
            let params = match (resource, field) {
                (Practitioner, StrField::Family) => vec![index::FAMILY],
                (Practitioner, StrField::Given) => vec![index::GIVEN],
                (Practitioner, StrField::Name) => vec![index::FAMILY, index::GIVEN, index::PREFIX],
                (Organization, StrField::Name) => vec![index::NAME],
                (Organization, StrField::City) => vec![index::CITY],
                (Organization, StrField::PostalCode) => vec![index::POSTAL_CODE],
                _ => return None,
            };
            let (rank, value): (u8, fn(String) -> Value) = match how {
                // No range of the index: the parameter's rows are read and filtered.
                StrMatch::Contains => (5, Value::Contains),
                StrMatch::Start | StrMatch::Exact => (3, Value::Prefix),
            };
            let values = values.iter().map(|v| value(fold(v))).collect();
            index(rank, params, values)
        }
        Filter::Code(ts) => {
            let param = match resource {
                Organization => index::TYPE,
                PractitionerRole => index::CODE,
                Practitioner | HealthcareService => return None,
            };
            index(4, vec![param], tokens(ts)?)
        }
        Filter::ServiceCode(_, ts) => index(4, vec![index::CODE], tokens(ts)?),
        Filter::IdentifierType(_)
        | Filter::Active(_)
        | Filter::LastUpdated(_)
        | Filter::QualificationCode(_)
        | Filter::Mailbox(_)
        | Filter::SmartCard(_)
        | Filter::InformationSystem(_)
        | Filter::RegistrationAuthority(_) => None,
    }
}

/// The folded family and given names of a Practitioner search by both (one starts-with or
/// `:exact` value each), when the index's [`index::FAMILY_GIVEN`] rows answer it.
fn family_and_given(q: &Query) -> Option<(String, String)> {
    if q.resource != ResourceType::Practitioner {
        return None;
    }
    let one = |field: StrField| {
        let mut values = q.filters.iter().filter_map(|f| match f {
            Filter::Str(fl, StrMatch::Start | StrMatch::Exact, vs) if *fl == field => {
                Some(vs.as_slice())
            }
            _ => None,
        });
        match (values.next(), values.next()) {
            (Some([v]), None) => Some(fold(v)),
            _ => None,
        }
    };
    let (family, given) = (one(StrField::Family)?, one(StrField::Given)?);
    index::family_given(&family, &given).map(|_| (family, given))
}

/// The driving lookup of a query (the first of the most selective kind), with the other
/// criteria the index answers as its `also`; `None`: no criterion has one (the kind's records
/// in change order are scanned). A search by family and given name, with no more selective
/// criterion, reads the rows of both names together ([`Driver::Names`]).
pub fn driver(q: &Query) -> Option<Driver> {
    let mut found: Vec<(u8, Driver)> = q
        .filters
        .iter()
        .filter_map(|f| lookup(q.resource, f))
        .collect();
    let first = (0..found.len()).min_by_key(|&i| found[i].0)?;
    if found[first].0 >= 3
        && let Some((family, given)) = family_and_given(q)
    {
        let also = found
            .into_iter()
            .filter_map(|(_, d)| match d {
                Driver::Index(l) if l.params != [index::FAMILY] && l.params != [index::GIVEN] => {
                    Some(l)
                }
                _ => None,
            })
            .collect();
        return Some(Driver::Names(Names {
            family,
            given,
            also,
        }));
    }
    match found.remove(first).1 {
        Driver::Index(mut l) => {
            l.also = found
                .into_iter()
                .filter_map(|(_, d)| match d {
                    Driver::Index(other) => Some(other),
                    Driver::Keys(_) | Driver::Names(_) => None,
                })
                .collect();
            Some(Driver::Index(l))
        }
        keys => Some(keys),
    }
}

/// Whether the index rows `d` reads decide the matches of `q` by themselves: every record
/// they find is a match, found by one row, so that its resource is answered without its record
/// being mapped to check it (and may be answered as kept, [`crate::store::kept`]). Practitioner
/// searches whose only criteria are one `identifier` token with a system and a code (the
/// identifier rows hold a practitioner's identifiers as its resource shows them, one row
/// each), or one family and one given name from their start ([`Driver::Names`]: the rows hold
/// the folded names the resource shows, one row a practitioner).
pub fn index_decides(q: &Query, d: &Driver) -> bool {
    if q.resource != ResourceType::Practitioner {
        return false;
    }
    match d {
        Driver::Names(n) => {
            n.also.is_empty()
                && q.filters.len() == 2
                && q.filters.iter().all(|f| {
                    matches!(f, Filter::Str(StrField::Family | StrField::Given, StrMatch::Start, v)
                        if v.len() == 1)
                })
        }
        Driver::Index(l) => {
            l.also.is_empty()
                && l.params == [index::IDENTIFIER]
                && matches!(q.filters.as_slice(), [Filter::Identifier(ts)]
                    if matches!(ts.as_slice(), [t]
                        if t.system.as_deref().is_some_and(|s| !s.is_empty())
                            && t.code.as_deref().is_some_and(|c| !c.is_empty())))
        }
        Driver::Keys(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::query::{Handling, parse};

    fn q(resource: ResourceType, params: &[(&str, &str)]) -> Query {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(resource, &params, Handling::Strict).unwrap()
    }

    #[test]
    fn the_most_selective_indexed_criterion_drives() {
        let d = driver(&q(
            ResourceType::Practitioner,
            &[("name", "Lefèvre"), ("identifier", "sys|10001045367")],
        ));
        assert_eq!(
            d,
            Some(Driver::Index(Lookup {
                params: vec![index::IDENTIFIER],
                values: vec![Value::Token {
                    system: Some("sys".into()),
                    code: "10001045367".into()
                }],
                also: vec![Lookup::of(
                    vec![index::FAMILY, index::GIVEN, index::PREFIX],
                    vec![Value::Prefix("lefevre".into())]
                )],
            }))
        );
        let d = driver(&q(
            ResourceType::Practitioner,
            &[("name", "Lefèvre,dupont")],
        ));
        assert_eq!(
            d,
            Some(Driver::Index(Lookup::of(
                vec![index::FAMILY, index::GIVEN, index::PREFIX],
                vec![
                    Value::Prefix("lefevre".into()),
                    Value::Prefix("dupont".into())
                ],
            )))
        );
        // Family and given name: both names' rows, with the other criteria as conditions.
        let d = driver(&q(
            ResourceType::Practitioner,
            &[
                ("family", "Dupont"),
                ("given:exact", "Hélène"),
                ("name", "dr"),
            ],
        ));
        assert_eq!(
            d,
            Some(Driver::Names(Names {
                family: "dupont".into(),
                given: "helene".into(),
                also: vec![Lookup::of(
                    vec![index::FAMILY, index::GIVEN, index::PREFIX],
                    vec![Value::Prefix("dr".into())]
                )],
            }))
        );
        // Several family names, or a more selective criterion: as any other search.
        let d = driver(&q(
            ResourceType::Practitioner,
            &[("family", "Dupont,Durand"), ("given", "Hélène")],
        ));
        assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::FAMILY]));
        let d = driver(&q(
            ResourceType::Practitioner,
            &[
                ("family", "Dupont"),
                ("given", "Hélène"),
                ("identifier", "sys|1"),
            ],
        ));
        assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::IDENTIFIER]));
        let d = driver(&q(
            ResourceType::Practitioner,
            &[("family:contains", "upon"), ("given", "Hélène")],
        ));
        assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::GIVEN]));
        // :contains drives only when nothing else does.
        let d = driver(&q(
            ResourceType::Organization,
            &[("name:contains", "Étienne")],
        ));
        assert_eq!(
            d,
            Some(Driver::Index(Lookup::of(
                vec![index::NAME],
                vec![Value::Contains("etienne".into())]
            )))
        );
        let d = driver(&q(ResourceType::Organization, &[("_id", "750000001")]));
        assert_eq!(d, Some(Driver::Keys(vec!["750000001".into()])));
    }

    #[test]
    fn the_index_decides_identifier_and_name_searches_alone() {
        let decides = |resource, params: &[(&str, &str)]| {
            let q = q(resource, params);
            driver(&q).is_some_and(|d| index_decides(&q, &d))
        };
        use ResourceType::*;
        assert!(decides(Practitioner, &[("identifier", "sys|10001045367")]));
        assert!(decides(
            Practitioner,
            &[("family", "Dupont"), ("given", "Hélène")]
        ));
        for params in [
            // Any system, no code, two tokens (one record may have both), an exact match, a
            // further criterion, a name with two values, one name alone.
            &[("identifier", "10001045367")][..],
            &[("identifier", "sys|")],
            &[("identifier", "sys|1,sys|2")],
            &[("family:exact", "Dupont"), ("given", "Hélène")],
            &[
                ("family", "Dupont"),
                ("given", "Hélène"),
                ("active", "true"),
            ],
            &[("identifier", "sys|1"), ("active", "true")],
            &[("family", "Dupont,Durand"), ("given", "Hélène")],
            &[("family", "Dupont")],
            &[("name", "Dupont")],
            &[("_id", "810001045367")],
        ] {
            assert!(!decides(Practitioner, params), "{params:?}");
        }
        assert!(!decides(Organization, &[("identifier", "sys|750000001")]));
    }

    #[test]
    fn criteria_without_index_scan() {
        for params in [&[("active", "false")][..], &[("identifier", "sys|")], &[]] {
            assert_eq!(
                driver(&q(ResourceType::Practitioner, params)),
                None,
                "{params:?}"
            );
        }
        let d = driver(&q(
            ResourceType::PractitionerRole,
            &[("practitioner", "Practitioner/810001045367")],
        ));
        assert!(matches!(d, Some(Driver::Index(l)) if l.params == [index::OWNER]));
    }
}
