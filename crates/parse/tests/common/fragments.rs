//! Messages for the decoders' proptests: arbitrary text, or a decoder's own words
//! (`fragments`) spliced with short runs of `filler` and of arbitrary text, so the generator
//! reaches the grammar's corners rather than only garbage.

use proptest::prelude::*;

pub fn message(
    fragments: &'static [&'static str],
    filler: &'static str,
) -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(fragments).prop_map(str::to_owned),
                1 => filler,
                1 => any::<String>().prop_map(|s| s.chars().take(4).collect()),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat()),
    ]
}
