// The name of every enum value a config can hold, one table per enum: the schema's choices, the parsing of
// a resolved config and every message that prints a value all read these tables, so a name cannot be
// spelt two ways. Adding a value to one of these enums means adding its row here.
#pragma once
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "nn/transformer_config.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tensor/dtype.h"

namespace mechlab {

template <typename Enum>
struct EnumName {
  std::string_view name;
  Enum value;
};

// One overload per enum, found by argument-dependent lookup from the templates below.
constexpr auto enum_names(AttentionKind) {
  using E = AttentionKind;
  return std::array{EnumName<E>{"softmax", E::softmax}, EnumName<E>{"relu", E::relu},
                    EnumName<E>{"relu_by_length", E::relu_by_length}, EnumName<E>{"linear", E::linear},
                    EnumName<E>{"linear_by_length", E::linear_by_length}};
}
constexpr auto enum_names(Device) {
  return std::array{EnumName<Device>{"cpu", Device::cpu}, EnumName<Device>{"cuda", Device::cuda}};
}
constexpr auto enum_names(MatmulPrecision) {
  using E = MatmulPrecision;
  return std::array{EnumName<E>{"fp32", E::fp32}, EnumName<E>{"tf32", E::tf32}};
}
constexpr auto enum_names(Positions) {
  using E = Positions;
  return std::array{EnumName<E>{"learned", E::learned}, EnumName<E>{"sinusoidal", E::sinusoidal},
                    EnumName<E>{"rotary", E::rotary}, EnumName<E>{"none", E::none}};
}
constexpr auto enum_names(LayerNormPlacement) {
  using E = LayerNormPlacement;
  return std::array{EnumName<E>{"pre", E::pre}, EnumName<E>{"none", E::none}};
}
constexpr auto enum_names(Activation) {
  using E = Activation;
  return std::array{EnumName<E>{"relu", E::relu}, EnumName<E>{"gelu", E::gelu}};
}
constexpr auto enum_names(InputKind) {
  using E = InputKind;
  return std::array{EnumName<E>{"tokens", E::tokens}, EnumName<E>{"vectors", E::vectors},
                    EnumName<E>{"token_pairs", E::token_pairs}};
}
constexpr auto enum_names(OutputKind) {
  using E = OutputKind;
  return std::array{EnumName<E>{"logits", E::logits}, EnumName<E>{"readout", E::readout},
                    EnumName<E>{"heads", E::heads}};
}
constexpr auto enum_names(InitScheme) {
  using E = InitScheme;
  return std::array{EnumName<E>{"pytorch", E::pytorch}, EnumName<E>{"normal", E::normal},
                    EnumName<E>{"zeros", E::zeros}};
}
constexpr auto enum_names(OptimizerKind) {
  using E = OptimizerKind;
  return std::array{EnumName<E>{"sgd", E::sgd}, EnumName<E>{"adam", E::adam}, EnumName<E>{"adamw", E::adamw}};
}
constexpr auto enum_names(ScheduleKind) {
  using E = ScheduleKind;
  return std::array{EnumName<E>{"constant", E::constant}, EnumName<E>{"warmup_cosine", E::warmup_cosine}};
}

template <typename Enum>
std::string name_of(Enum value) {
  for (const auto& entry : enum_names(value))
    if (entry.value == value) return std::string(entry.name);
  throw std::logic_error("enum value without a name in config/enum_names.h");
}

template <typename Enum>
std::vector<std::string> names_of() {
  std::vector<std::string> names;
  for (const auto& entry : enum_names(Enum{})) names.emplace_back(entry.name);
  return names;
}

// The value called `name`; std::invalid_argument for a name the table lacks (the schema has already
// checked configs, so this is a programming error there).
template <typename Enum>
Enum enum_from_name(std::string_view name) {
  for (const auto& entry : enum_names(Enum{}))
    if (entry.name == name) return entry.value;
  throw std::invalid_argument("unknown name '" + std::string(name) + "'");
}

}  // namespace mechlab
