//! The models Segue knows, by the names the CLI, the app and the tables use.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::features::Modality;
use crate::{Error, Result};

/// A model, as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelSpec {
    /// Train popularity.
    Pop,
    /// Last-track Markov chain.
    Markov,
    /// Cosine to the mean of the input's CBOW vectors.
    W2vKnn,
    /// The user's own play counts.
    PersonalPop,
    /// The paper's ANN: track embedding learned from scratch.
    Ann,
    /// ANN with the embedding initialised from CBOW vectors.
    Annw,
    /// ANN with the embedding initialised from LSA vectors.
    AnnLsa,
    /// ANNW with content modalities: `None` takes every modality the library
    /// has ("fusion"), `Some` exactly those listed ("annw+tags").
    Fusion(Option<Vec<Modality>>),
    /// The GRU4Rec-style baseline.
    Gru4Rec,
    /// SASRec.
    SasRec,
}

impl ModelSpec {
    /// The baselines and models of the paper's comparison, in table order.
    pub fn paper_table() -> Vec<ModelSpec> {
        vec![
            ModelSpec::Pop,
            ModelSpec::Markov,
            ModelSpec::W2vKnn,
            ModelSpec::PersonalPop,
            ModelSpec::Ann,
            ModelSpec::Annw,
            ModelSpec::AnnLsa,
            ModelSpec::Gru4Rec,
            ModelSpec::SasRec,
            ModelSpec::Fusion(None),
        ]
    }

    /// Whether training it needs Burn (and so a device).
    pub fn is_neural(&self) -> bool {
        !matches!(
            self,
            ModelSpec::Pop | ModelSpec::Markov | ModelSpec::W2vKnn | ModelSpec::PersonalPop
        )
    }

    /// Parses a comma-separated list.
    pub fn parse_list(list: &str) -> Result<Vec<ModelSpec>> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }

    /// The neural model names, for help texts.
    pub const NAMES: &'static str = "pop, markov, w2v-knn, personal-pop, ann, annw, ann-lsa, gru4rec, sasrec, fusion, annw+acoustic|lyrics|tags[+…]";
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Pop => f.write_str("pop"),
            ModelSpec::Markov => f.write_str("markov"),
            ModelSpec::W2vKnn => f.write_str("w2v-knn"),
            ModelSpec::PersonalPop => f.write_str("personal-pop"),
            ModelSpec::Ann => f.write_str("ann"),
            ModelSpec::Annw => f.write_str("annw"),
            ModelSpec::AnnLsa => f.write_str("ann-lsa"),
            ModelSpec::Fusion(None) => f.write_str("fusion"),
            ModelSpec::Fusion(Some(modalities)) => {
                f.write_str("annw")?;
                for modality in modalities {
                    write!(f, "+{}", modality.name())?;
                }
                Ok(())
            }
            ModelSpec::Gru4Rec => f.write_str("gru4rec"),
            ModelSpec::SasRec => f.write_str("sasrec"),
        }
    }
}

impl FromStr for ModelSpec {
    type Err = Error;

    fn from_str(name: &str) -> Result<ModelSpec> {
        let name = name.trim().to_ascii_lowercase();
        let spec = match name.as_str() {
            "pop" => ModelSpec::Pop,
            "markov" => ModelSpec::Markov,
            "w2v-knn" => ModelSpec::W2vKnn,
            "personal-pop" => ModelSpec::PersonalPop,
            "ann" => ModelSpec::Ann,
            "annw" => ModelSpec::Annw,
            "ann-lsa" => ModelSpec::AnnLsa,
            "fusion" => ModelSpec::Fusion(None),
            "gru4rec" => ModelSpec::Gru4Rec,
            "sasrec" => ModelSpec::SasRec,
            other => match other.strip_prefix("annw+") {
                Some(list) => {
                    let mut modalities = list
                        .split('+')
                        .map(str::parse::<Modality>)
                        .collect::<Result<Vec<_>>>()?;
                    modalities.sort();
                    modalities.dedup();
                    ModelSpec::Fusion(Some(modalities))
                }
                None => {
                    return Err(Error::Setting {
                        setting: "model",
                        reason: format!("unknown model '{other}' (known: {})", ModelSpec::NAMES),
                    });
                }
            },
        };
        Ok(spec)
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for spec in ModelSpec::paper_table() {
            assert_eq!(spec.to_string().parse::<ModelSpec>().unwrap(), spec);
        }
        let fusion: ModelSpec = "annw+tags+acoustic".parse().unwrap();
        assert_eq!(fusion.to_string(), "annw+acoustic+tags");
        assert!("annw+smell".parse::<ModelSpec>().is_err());
        assert!(
            "gru9"
                .parse::<ModelSpec>()
                .unwrap_err()
                .to_string()
                .contains("unknown model 'gru9'")
        );
    }
}
