// How many bytes a model's passes hold, from its shapes alone (nothing is allocated): the parameters, and
// the activations of a batch in a forward pass with or without the backward pass that follows. The
// coefficients are fitted to what the CPU backend's allocator holds at its peak (tests/test_memory.cpp keeps
// them above it), so they are upper bounds for the shapes mechlab builds today.
#pragma once
#include <cstdint>

#include "nn/transformer_config.h"

namespace mechlab {

// Peak bytes of activations for `sequences` sequences of length `length` (all replicas together), in
// float32: a training step (forward, loss and backward) or a forward pass alone (evaluations, dumps).
double activation_bytes(const TransformerConfig& model, double sequences, double length, bool backward);

}  // namespace mechlab
