//! Numbers said as words ("twelve", "one hundred and five", "twenty-one")
//! turned into digits, so "submission twelve" and "submission 12" match the
//! same `{number}` slot.

const UNITS: &[(&str, u64)] = &[
    ("zero", 0),
    ("oh", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
];
const TENS: &[(&str, u64)] = &[
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];

fn unit(w: &str) -> Option<u64> {
    UNITS.iter().find(|(n, _)| *n == w).map(|(_, v)| *v)
}

fn tens(w: &str) -> Option<u64> {
    TENS.iter().find(|(n, _)| *n == w).map(|(_, v)| *v)
}

/// Whether `w` can be part of a number said in words.
fn is_number_word(w: &str) -> bool {
    unit(w).is_some() || tens(w).is_some() || matches!(w, "hundred" | "thousand")
}

/// Replaces every run of number words in `tokens` by its digits ("and"
/// inside a number, as in "one hundred and five", is part of it). Digit
/// tokens stay as they are; "#12" and "no. 12" forms are already digits.
pub fn words_to_digits(tokens: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if !is_number_word(&tokens[i]) || tokens[i] == "hundred" || tokens[i] == "thousand" {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        // The longest run of number words (with "and" between them).
        let mut j = i;
        let mut words: Vec<&str> = Vec::new();
        while j < tokens.len() {
            let w = tokens[j].as_str();
            if is_number_word(w) {
                words.push(w);
                j += 1;
            } else if w == "and"
                && !words.is_empty()
                && tokens.get(j + 1).is_some_and(|n| is_number_word(n))
            {
                j += 1;
            } else {
                break;
            }
        }
        match value(&words) {
            Some(v) => out.push(v.to_string()),
            None => out.extend(tokens[i..j].iter().cloned()),
        }
        i = j;
    }
    out
}

/// The value of number words ("one hundred five" = 105, "twenty one" = 21,
/// "one two" = 12 as digits said one by one).
fn value(words: &[&str]) -> Option<u64> {
    if words.is_empty() {
        return None;
    }
    // Digits said one by one: "one two three" = 123 (only units below ten).
    if words.len() > 1 && words.iter().all(|w| unit(w).is_some_and(|v| v < 10)) {
        return words
            .iter()
            .try_fold(0u64, |acc, w| Some(acc * 10 + unit(w)?));
    }
    let (mut total, mut current) = (0u64, 0u64);
    for w in words {
        if let Some(v) = unit(w) {
            current += v;
        } else if let Some(v) = tens(w) {
            current += v;
        } else if *w == "hundred" {
            current = current.max(1) * 100;
        } else if *w == "thousand" {
            total += current.max(1) * 1000;
            current = 0;
        }
    }
    Some(total + current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        words_to_digits(&s.split(' ').map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn numbers_in_words_become_digits() {
        assert_eq!(t("submission twelve"), ["submission", "12"]);
        assert_eq!(t("submission twenty one"), ["submission", "21"]);
        assert_eq!(
            t("submission one hundred and five please"),
            ["submission", "105", "please"]
        );
        assert_eq!(t("number two thousand three hundred"), ["number", "2300"]);
        assert_eq!(t("one two three"), ["123"]);
        assert_eq!(t("submission 12"), ["submission", "12"]);
        assert_eq!(t("reviews and more"), ["reviews", "and", "more"]);
        assert_eq!(t("hundred"), ["hundred"]);
    }
}
