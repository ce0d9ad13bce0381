// Indirect object identification prompts (Wang et al. 2022; studies.md section 4): two names, one of them (S)
// repeated; the answer at the last position (END) is the other (IO). Two presets: Adhikari's symbolic
// sequences "<s> A B B <mid>" and "<s> B A B <mid>" over 6 names, and Redwood-style sentence templates over
// names, places and objects, each in ABBA and BABA order. The contrast prompts (ABC, S2-flip, IO-swap) are the
// same templates with other names.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "random/philox.h"

namespace mechlab {

enum class IoiPreset { symbolic, templates };

// One prompt: T token ids (the last one END) and where its names stand. S1 + 1 is s1_position + 1.
struct IoiPrompt {
  std::vector<int32_t> tokens;
  int io = 0, s = 0;  // name tokens: the answer and the repeated name
  int template_index = 0;
  bool abba = true;  // IO before S1 ("A and B ... B"); BABA: S1 before IO
  int io_position = 0, s1_position = 0, s2_position = 0, end_position = 0;
};

// The names a prompt is written with. For the corruptions: abc gives three distinct names (IO -> a, S1 -> b,
// S2 -> c), s2_flip puts the IO name at S2, io_swap swaps the IO and S1 names (the answer becomes the old S).
struct PromptNames {
  int io = 0, s1 = 0, s2 = 0;
};

class IoiPrompts {
 public:
  // names: how many name tokens (0: the preset's, 6 or 32); places and objects fill the templates' slots;
  // templates: how many of the 8 sentence templates are used; held_out: the share of unordered name pairs kept
  // for evaluation (templates preset; the symbolic one trains and evaluates on all 60 sequences).
  IoiPrompts(IoiPreset preset, int names, int places, int objects, int templates, double held_out);
  // The names a preset has when `names` is 0: Adhikari's 6, or 32.
  static int preset_names(IoiPreset preset) { return preset == IoiPreset::symbolic ? 6 : 32; }

  IoiPreset preset() const { return preset_; }
  int vocab_size() const { return static_cast<int>(vocabulary_.size()); }
  int sequence_length() const { return sequence_length_; }
  int names() const { return names_; }
  int first_name() const { return first_name_; }  // name k is token first_name() + k
  int templates() const { return templates_; }
  const std::vector<std::string>& vocabulary() const { return vocabulary_; }
  // Whether the unordered pair {a, b} of name indices is held out for evaluation (never for symbolic).
  bool held_out(int a, int b) const;
  // Whether `names` names at the share `held_out` leave no pair held out, or no pair for training.
  static bool split_is_empty(int names, double held_out);
  // The symbolic preset's every sequence, in a fixed order: 30 ordered pairs x 2 templates.
  int symbolic_count() const { return names_ * (names_ - 1) * 2; }

  // Example `index` of a context: for symbolic, the index-th sequence (mod 60); for templates, a template,
  // an order, a pair of names (from the held-out pairs when `evaluation`, else the others), a place and an
  // object, uniform.
  IoiPrompt sample(const Philox& rng, uint64_t index, bool evaluation) const;
  // The same template, order, place and object as `prompt`, written with other names (name indices).
  IoiPrompt rewrite(const IoiPrompt& prompt, PromptNames names) const;
  // A name index different from those given, uniform, from draw `draw` of rng.
  int other_name(const Philox& rng, uint64_t draw, std::vector<int> taken) const;
  int name_index(int token) const { return token - first_name_; }

 private:
  struct Slots {
    int place = 0, object = 0;
  };
  IoiPrompt write(int template_index, bool abba, PromptNames names, Slots slots) const;
  int token(const std::string& word) const;

  IoiPreset preset_;
  int names_, places_, objects_, templates_;
  double held_out_;
  int first_name_ = 0, first_place_ = 0, first_object_ = 0;
  int sequence_length_ = 0;
  std::vector<std::string> vocabulary_;
  std::vector<std::vector<std::string>> template_words_;  // words, with "A", "B", "S", "P", "O" as slots
  std::vector<std::pair<int, int>> training_pairs_, held_out_pairs_;  // unordered, a < b (templates preset)
};

}  // namespace mechlab
