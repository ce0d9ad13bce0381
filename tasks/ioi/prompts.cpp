#include "tasks/ioi/prompts.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace mechlab {

namespace {
const char* const kNames[] = {"Mary",  "John",  "Alice", "Bob",   "Sarah", "James",  "Emma",  "David",
                              "Laura", "Mike",  "Anna",  "Tom",   "Kate",  "Daniel", "Rose",  "Peter",
                              "Julia", "Mark",  "Lucy",  "Paul",  "Clara", "Simon",  "Helen", "George",
                              "Grace", "Henry", "Ruth",  "Adam",  "Nora",  "Oliver", "Eve",   "Victor",
                              "Linda", "Sam",   "Irene", "Frank", "Olga",  "Hugo",   "Maria", "Leo",
                              "Diana", "Carl",  "Jane",  "Ivan",  "Sofia", "Walter", "Nina",  "Oscar",
                              "Amy",   "Ben",   "Lisa",  "Max",   "Ella",  "Jack",   "Iris",  "Fred",
                              "Tara",  "Neil",  "Vera",  "Colin", "Zoe",   "Alan",   "Mia",   "Ralph"};
const char* const kPlaces[] = {"store", "garden", "school", "park", "office", "station", "river", "kitchen"};
const char* const kObjects[] = {"ring", "book", "drink", "apple", "key", "letter", "bone", "basket"};
constexpr int kMaxNames = sizeof(kNames) / sizeof(kNames[0]);
constexpr int kMaxPlaces = sizeof(kPlaces) / sizeof(kPlaces[0]);
constexpr int kMaxObjects = sizeof(kObjects) / sizeof(kObjects[0]);

// Slots: A is the first name, B the second, S the repeated one (S2), P a place, O an object. Every template has
// 15 tokens with <s>, so a batch needs no padding; the first name stands at positions 1 to 5, which keeps
// position from naming a role.
const char* const kTemplates[] = {
    "<s> when A and B went to the P , S gave a O to",    "<s> A and B got a O at the P , S gave it to",
    "<s> then A and B went to the P . S gave a O to",    "<s> after A and B went to the P , S handed a O to",
    "<s> while A and B were at the P , S gave a O to",   "<s> A and B found a O at the P . S gave it to",
    "<s> once A and B had a long talk , S sent a O to", "<s> the P was where A and B met . S gave a O to"};
constexpr int kMaxTemplates = sizeof(kTemplates) / sizeof(kTemplates[0]);

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool is_slot(const std::string& w) { return w == "A" || w == "B" || w == "S" || w == "P" || w == "O"; }

// A fixed hash of an unordered pair: the held-out split is the same for every seed.
uint64_t pair_hash(int a, int b) {
  uint64_t x = static_cast<uint64_t>(std::min(a, b)) * 1000003u + static_cast<uint64_t>(std::max(a, b));
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool pair_held_out(int a, int b, double share) {
  return share > 0.0 && static_cast<double>(pair_hash(a, b) % 1000000) < share * 1e6;
}

// The unordered pairs (a < b) of `names` names, split into training and held-out ones at `share`.
void split_pairs(int names, double share, std::vector<std::pair<int, int>>& training,
                 std::vector<std::pair<int, int>>& held) {
  for (int a = 0; a < names; ++a)
    for (int b = a + 1; b < names; ++b) (pair_held_out(a, b, share) ? held : training).emplace_back(a, b);
}
}  // namespace

IoiPrompts::IoiPrompts(IoiPreset preset, int names, int places, int objects, int templates, double held_out)
    : preset_(preset),
      names_(names > 0 ? names : preset_names(preset)),
      places_(places),
      objects_(objects),
      templates_(preset == IoiPreset::symbolic ? 1 : templates),
      held_out_(preset == IoiPreset::symbolic ? 0.0 : held_out) {
  if (names_ < 3 || names_ > kMaxNames) throw std::invalid_argument("IoiPrompts: names must be 3 .. 64");
  if (places_ < 1 || places_ > kMaxPlaces || objects_ < 1 || objects_ > kMaxObjects)
    throw std::invalid_argument("IoiPrompts: places and objects must be 1 .. 8");
  if (templates_ < 1 || templates_ > kMaxTemplates) throw std::invalid_argument("IoiPrompts: templates must be 1 .. 8");
  vocabulary_ = {"<s>"};
  if (preset_ == IoiPreset::symbolic) {
    vocabulary_.push_back("<mid>");
    template_words_ = {{"<s>", "A", "B", "S", "<mid>"}};
  } else {
    for (int t = 0; t < templates_; ++t) template_words_.push_back(words_of(kTemplates[t]));
  }
  first_name_ = static_cast<int>(vocabulary_.size());
  for (int k = 0; k < names_; ++k) vocabulary_.push_back(kNames[k]);
  if (preset_ == IoiPreset::templates) {
    first_place_ = static_cast<int>(vocabulary_.size());
    for (int k = 0; k < places_; ++k) vocabulary_.push_back(kPlaces[k]);
    first_object_ = static_cast<int>(vocabulary_.size());
    for (int k = 0; k < objects_; ++k) vocabulary_.push_back(kObjects[k]);
    for (const auto& words : template_words_)
      for (const std::string& w : words)
        if (!is_slot(w) && std::find(vocabulary_.begin(), vocabulary_.end(), w) == vocabulary_.end())
          vocabulary_.push_back(w);
  }
  sequence_length_ = static_cast<int>(template_words_[0].size());
  if (preset_ == IoiPreset::templates) {
    split_pairs(names_, held_out_, training_pairs_, held_out_pairs_);
    if (training_pairs_.empty() || held_out_pairs_.empty())
      throw std::invalid_argument("IoiPrompts: a split has no name pair; change held_out or names");
  }
}

int IoiPrompts::token(const std::string& word) const {
  return static_cast<int>(std::find(vocabulary_.begin(), vocabulary_.end(), word) - vocabulary_.begin());
}

bool IoiPrompts::held_out(int a, int b) const { return pair_held_out(a, b, held_out_); }

bool IoiPrompts::split_is_empty(int names, double held_out) {
  std::vector<std::pair<int, int>> training, held;
  split_pairs(names, held_out, training, held);
  return training.empty() || held.empty();
}

IoiPrompt IoiPrompts::write(int template_index, bool abba, PromptNames names, Slots slots) const {
  IoiPrompt p;
  p.template_index = template_index;
  p.abba = abba;
  p.io = first_name_ + names.io;
  p.s = first_name_ + names.s1;
  const std::vector<std::string>& words = template_words_[template_index];
  for (size_t t = 0; t < words.size(); ++t) {
    const std::string& w = words[t];
    const int position = static_cast<int>(t);
    int id;
    if (w == "A" || w == "B") {
      const bool is_io = (w == "A") == abba;  // ABBA: A is IO; BABA: B is IO
      id = first_name_ + (is_io ? names.io : names.s1);
      (is_io ? p.io_position : p.s1_position) = position;
    } else if (w == "S") {
      id = first_name_ + names.s2;
      p.s2_position = position;
    } else if (w == "P") {
      id = first_place_ + slots.place;
    } else if (w == "O") {
      id = first_object_ + slots.object;
    } else {
      id = token(w);
    }
    p.tokens.push_back(id);
  }
  p.end_position = static_cast<int>(words.size()) - 1;
  return p;
}

IoiPrompt IoiPrompts::sample(const Philox& rng, uint64_t index, bool evaluation) const {
  if (preset_ == IoiPreset::symbolic) {
    const int k = static_cast<int>(index % static_cast<uint64_t>(symbolic_count()));
    const int pair = k / 2, io = pair / (names_ - 1), other = pair % (names_ - 1);
    const int s = other < io ? other : other + 1;
    return write(0, k % 2 == 0, {io, s, s}, {});
  }
  uint64_t draw = index * 64;  // each example owns a block of draws
  const int t = static_cast<int>(rng.below(draw++, static_cast<uint32_t>(templates_)));
  const bool abba = rng.below(draw++, 2) == 0;
  int io = 0, s = 0;
  // Draw ordered pairs until one is in the split (a held-out one takes five tries on average). After 48 misses
  // (one evaluation prompt in 45,000 at a fifth held out) take one from the split's list; drawing from the
  // list every time would be as good, but would change every earlier run's prompts. (Past 31 tries an example
  // reads into the next one's block of draws: rare, and only a reuse of numbers for another purpose.)
  for (int tries = 0;; ++tries) {
    if (tries == 48) {
      const auto& pairs = evaluation ? held_out_pairs_ : training_pairs_;
      const auto [a, b] = pairs[rng.below(draw++, static_cast<uint32_t>(pairs.size()))];
      const bool a_is_io = rng.below(draw++, 2) == 0;
      io = a_is_io ? a : b;
      s = a_is_io ? b : a;
      break;
    }
    io = static_cast<int>(rng.below(draw++, static_cast<uint32_t>(names_)));
    s = other_name(rng, draw++, {io});
    if (held_out(io, s) == evaluation) break;
  }
  const Slots slots{static_cast<int>(rng.below(draw++, static_cast<uint32_t>(places_))),
                    static_cast<int>(rng.below(draw++, static_cast<uint32_t>(objects_)))};
  IoiPrompt p = write(t, abba, {io, s, s}, slots);
  return p;
}

IoiPrompt IoiPrompts::rewrite(const IoiPrompt& prompt, PromptNames names) const {
  Slots slots;
  if (preset_ == IoiPreset::templates) {
    const std::vector<std::string>& words = template_words_[prompt.template_index];
    for (size_t t = 0; t < words.size(); ++t) {
      if (words[t] == "P") slots.place = prompt.tokens[t] - first_place_;
      if (words[t] == "O") slots.object = prompt.tokens[t] - first_object_;
    }
  }
  return write(prompt.template_index, prompt.abba, names, slots);
}

int IoiPrompts::other_name(const Philox& rng, uint64_t draw, std::vector<int> taken) const {
  std::sort(taken.begin(), taken.end());
  taken.erase(std::unique(taken.begin(), taken.end()), taken.end());
  int k = static_cast<int>(rng.below(draw, static_cast<uint32_t>(names_ - static_cast<int>(taken.size()))));
  for (int t : taken)
    if (k >= t) ++k;  // skip the taken names, in increasing order
  return k;
}

}  // namespace mechlab
