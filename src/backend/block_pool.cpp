#include "backend/block_pool.h"

#include <iterator>
#include <new>
#include <stdexcept>

namespace mechlab {

namespace {
size_t round_up(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }
}  // namespace

BlockPool::~BlockPool() {
  for (auto& [start, size] : segments_) put_(start);
}

void BlockPool::insert_free(char* at, Block& block) {
  block.free = true;
  (block.small ? free_small_ : free_large_).insert({block.size, at});
}

void BlockPool::erase_free(char* at, const Block& block) { (block.small ? free_small_ : free_large_).erase({block.size, at}); }

void* BlockPool::allocate(size_t bytes) {
  const size_t size = round_up(bytes == 0 ? 1 : bytes, kAlignment);
  const bool small = size <= kSmallRequest;
  std::set<FreeKey>& free = small ? free_small_ : free_large_;
  auto found = free.lower_bound({size, nullptr});
  if (found == free.end()) {  // no free block holds it: a new segment, which becomes one free block
    const size_t segment_size = small ? kSmallSegment : round_up(size, kLargeRounding);
    char* start = static_cast<char*>(get_(segment_size));
    if (!start) throw std::bad_alloc();
    segments_[start] = segment_size;
    reserved_ += segment_size;
    Block& block = blocks_[start];
    block = {segment_size, start, false, small};
    insert_free(start, block);
    found = free.lower_bound({size, nullptr});
  }
  char* at = found->second;
  free.erase(found);
  Block& block = blocks_.at(at);
  block.free = false;
  if (block.size > size) {  // the rest stays free, as a block of its own
    Block rest{block.size - size, block.segment, false, small};
    block.size = size;
    Block& inserted = blocks_[at + size];
    inserted = rest;
    insert_free(at + size, inserted);
  }
  return at;
}

// Merges the block at `at` with the next one when that is free and of the same segment; returns `at`.
char* BlockPool::merge_with_next(char* at) {
  Block& block = blocks_.at(at);
  auto next = blocks_.find(at + block.size);
  if (next != blocks_.end() && next->second.free && next->second.segment == block.segment) {
    erase_free(next->first, next->second);
    block.size += next->second.size;
    blocks_.erase(next);
  }
  return at;
}

void BlockPool::release(void* data) {
  char* at = static_cast<char*>(data);
  auto it = blocks_.find(at);
  if (it == blocks_.end() || it->second.free) throw std::logic_error("BlockPool::release: not a live block of this pool");
  it->second.free = true;  // so a free previous block takes it in; it joins a free set last
  merge_with_next(at);
  if (it != blocks_.begin()) {
    auto previous = std::prev(it);
    if (previous->second.free && previous->second.segment == it->second.segment) {
      erase_free(previous->first, previous->second);
      at = merge_with_next(previous->first);
    }
  }
  insert_free(at, blocks_.at(at));
}

void BlockPool::release_free_segments() {
  for (auto segment = segments_.begin(); segment != segments_.end();) {
    auto block = blocks_.find(segment->first);
    if (block != blocks_.end() && block->second.free && block->second.size == segment->second) {
      erase_free(block->first, block->second);
      blocks_.erase(block);
      put_(segment->first);
      reserved_ -= segment->second;
      segment = segments_.erase(segment);
    } else {
      ++segment;
    }
  }
}

}  // namespace mechlab
