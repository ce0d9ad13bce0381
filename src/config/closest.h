// "Did you mean ...?" for config keys, choices and task names: the candidate a mistyped word most likely
// meant, so an error can name the fix instead of only the mistake.
#pragma once
#include <string>
#include <vector>

namespace mechlab {

// The candidate closest to `word` by Levenshtein distance, ignoring case, or "" when none is close enough to
// be a plausible typo: the distance must be at most max(2, word.size() / 3) and smaller than the longer of
// the two words (two letters replaced in "lr" is another word, not a typo). Ties go to the earlier candidate.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace mechlab
