//! How knowledge text is cut into search terms, shared by the runbook and ticket indexes: words
//! (letters and digits), lowercased, without English stop words, stemmed (Snowball English, as
//! tantivy's `en_stem`), with CamelCase names also indexed as their words
//! (`StageIteratorAgeHigh` is found by "iterator age").

use tantivy::schema::{IndexRecordOption, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenStream,
};

use super::query::{STOP_WORDS, split_camel};

/// The analyzer's name in each index's tokenizer manager.
pub const ANALYZER: &str = "syncwatch_en";

/// Words, lowercased, minus [`STOP_WORDS`], stemmed; tokens over 40 bytes dropped (hashes,
/// base64) as tantivy's default does.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(
            STOP_WORDS.iter().map(|w| w.to_string()),
        ))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// A text field analysed by [`ANALYZER`], with positions (phrase snippets), optionally stored.
pub fn text_options(stored: bool) -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let options = TextOptions::default().set_indexing_options(indexing);
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// `text` followed by the words of its CamelCase names, so both spellings are indexed.
pub fn expand(text: &str) -> String {
    let extra = camel_words(text);
    if extra.is_empty() {
        text.to_string()
    } else {
        format!("{text} {extra}")
    }
}

/// The words of the CamelCase names in `text` (`StageIteratorAgeHigh` → `Stage Iterator Age
/// High`), without one-letter parts (`XTime` gives `Time`).
pub fn camel_words(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let parts = split_camel(word);
        if parts.len() > 1 {
            out.extend(parts.into_iter().filter(|p| p.chars().count() > 1));
        }
    }
    out.join(" ")
}

/// The distinct terms of `text` as the index sees them.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let t = &stream.token().text;
        if !out.iter().any(|o| o == t) {
            out.push(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stemmed_words_without_stop_words() {
        let mut a = analyzer();
        assert_eq!(
            terms(&mut a, "What do I do about the Syncs failing?"),
            vec!["sync", "fail"]
        );
        assert_eq!(
            terms(&mut a, &expand("StageIteratorAgeHigh fired")),
            vec![
                "stageiteratoragehigh",
                "fire",
                "stage",
                "iter",
                "age",
                "high"
            ]
        );
    }
}
