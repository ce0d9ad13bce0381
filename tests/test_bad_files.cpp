// Damaged run directories and bad input files: a resume of a run whose config, metrics, checkpoints or
// provenance were corrupted, truncated, swapped or locked, and `mechlab forward` on inputs it cannot use.
// Each must exit with code 2, print one line naming the file or argument, and change nothing.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "hand_made_files.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "report.h"
#include "run_comparison.h"
#include "subprocess.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const char* kConfig = R"({
  "name": "damaged", "seed": 2,
  "task": {"name": "bigram_backcopy", "seq_len": 12},
  "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
  "train": {"steps": 40, "batch_size": 4, "eval_every": 20, "eval_batch_size": 8, "log_every": 5,
            "checkpoint_every": 20},
  "outputs": {"dumps": "none"}
})";


void flip_byte(const fs::path& file, std::streamoff from_end) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-from_end, std::ios::end);
  char byte = 0;
  f.read(&byte, 1);
  byte ^= 0x10;
  f.seekp(-from_end, std::ios::end);
  f.write(&byte, 1);
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::vector<std::string> lines;
  std::istringstream in(read_text(file));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void write_lines(const fs::path& file, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  write_text(file, text);
}

// A checkpoint of `from` with its metadata's config replaced by the one of `like` (data and checksum intact).
void graft_config(const fs::path& from, const fs::path& like, const fs::path& to) {
  SafetensorsFile source = load_safetensors(from);
  source.metadata["config"] = load_safetensors(like).metadata.at("config");
  save_safetensors(to, source.tensors, source.metadata);
}

struct Damage {
  const char* what;
  std::function<void(const fs::path& run, const fs::path& spare)> apply;
  std::vector<std::string> extra_arguments;  // besides --resume
  std::string expected;
};
}  // namespace

TEST_CASE("resuming a damaged run directory exits with 2, names the file, and changes nothing") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string();
  // The template: interrupted at step 30, with checkpoints at 20 and 30 (the interruption's).
  const fs::path original = dir / "original";
  REQUIRE(run_mechlab({"run", config, "--out", original.string()}, ".", {"MECHLAB_FAULT=step:30:SIGTERM"}).exit_code == 130);
  REQUIRE(fs::exists(original / "checkpoints" / "step_00000030.safetensors"));
  // Runs of other configs whose checkpoints get swapped in.
  const fs::path other_lr = dir / "other_lr", wider = dir / "wider";
  REQUIRE(run_mechlab({"run", config, "--out", other_lr.string(), "optim.lr=3e-3", "train.steps=20"}).exit_code == 0);
  REQUIRE(run_mechlab({"run", config, "--out", wider.string(), "model.d_mlp=64", "train.steps=20"}).exit_code == 0);
  const fs::path c20 = fs::path("checkpoints") / "step_00000020.safetensors";
  const fs::path c30 = fs::path("checkpoints") / "step_00000030.safetensors";

  auto edit_config = [](const fs::path& run, const std::function<void(json&)>& edit) {
    json c = json::parse(read_text(run / "config.json"));
    edit(c);
    write_text(run / "config.json", c.dump(2));
  };
  const std::vector<Damage> damages = {
      {"config.json is not JSON", [&](const fs::path& run, const fs::path&) { write_text(run / "config.json", "{\"name\": "); },
       {}, "config.json: is not a config this mechlab can read"},
      {"config.json is a directory", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / "config.json");
         fs::create_directory(run / "config.json");
       }, {}, "config.json: is not a config this mechlab can read"},
      {"config.json has a key this mechlab does not know", [&](const fs::path& run, const fs::path&) {
         edit_config(run, [](json& c) { c["model"]["alibi_slopes"] = true; });
       }, {}, "model.alibi_slopes: unknown key"},
      {"config.json of another learning rate", [&](const fs::path& run, const fs::path&) {
         edit_config(run, [](json& c) { c["optim"]["lr"] = 0.01; });
       }, {}, "holds a run of a different config (optim.lr"},
      {"config.json nested 100 levels", [&](const fs::path& run, const fs::path&) {
         write_text(run / "config.json", std::string(100, '[') + std::string(100, ']'));
       }, {}, "nested more than 64 levels deep"},
      {"metrics.jsonl torn in the middle", [&](const fs::path& run, const fs::path&) {
         std::vector<std::string> lines = lines_of(run / "metrics.jsonl");
         lines[2] = lines[2].substr(0, lines[2].size() / 2);
         write_lines(run / "metrics.jsonl", lines);
       }, {}, "metrics.jsonl: line 3 is not a complete JSON record"},
      {"metrics.jsonl truncated before the checkpoint", [&](const fs::path& run, const fs::path&) {
         std::vector<std::string> lines = lines_of(run / "metrics.jsonl");
         lines.resize(3);
         write_lines(run / "metrics.jsonl", lines);
       }, {}, "records are missing: the file was truncated"},
      {"metrics.jsonl with records written twice", [&](const fs::path& run, const fs::path&) {
         std::vector<std::string> lines = lines_of(run / "metrics.jsonl");
         lines.insert(lines.begin() + 2, lines[1]);
         write_lines(run / "metrics.jsonl", lines);
       }, {}, "metrics.jsonl: line 3 has step 5 after step 5"},
      {"metrics.jsonl with a line that is not UTF-8", [&](const fs::path& run, const fs::path&) {
         std::vector<std::string> lines = lines_of(run / "metrics.jsonl");
         lines[1] = "{\"step\": 5, \"note\": \"\xff\"}";
         write_lines(run / "metrics.jsonl", lines);
       }, {}, "metrics.jsonl: line 2 is not a complete JSON record"},
      {"metrics.jsonl deleted", [&](const fs::path& run, const fs::path&) { fs::remove(run / "metrics.jsonl"); },
       {}, "metrics.jsonl: is missing, but the checkpoint of step 30"},
      {"metrics.jsonl is a directory", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / "metrics.jsonl");
         fs::create_directory(run / "metrics.jsonl");
       }, {}, "metrics.jsonl"},
      {"both checkpoints fail their checksums", [&](const fs::path& run, const fs::path&) {
         flip_byte(run / c20, 40);
         flip_byte(run / c30, 40);
       }, {}, "fails its checksum (data_crc32 is"},
      {"the only checkpoints belong to another config", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         fs::copy_file(other_lr / c20, run / c20, fs::copy_options::overwrite_existing);
       }, {}, "cannot be resumed: it belongs to another config"},
      {"a checkpoint with tensors of other shapes", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         graft_config(wider / c20, run / c20, run / c20);
       }, {}, "tensor 'blocks.0.mlp.W_in' has shape (16, 64) but this model's is (16, 32)"},
      {"a checkpoint that is text", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         write_text(run / c20, "not a checkpoint\n");
       }, {}, "step_00000020.safetensors: cannot be resumed: truncated or not a safetensors file"},
      {"a truncated checkpoint", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         fs::resize_file(run / c20, fs::file_size(run / c20) / 2);
       }, {}, "truncated safetensors file"},
      {"a safetensors file that is not a checkpoint", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         SafetensorsFile file = load_safetensors(run / c20);
         save_safetensors(run / c20, file.tensors, {{"format", "pt"}});
       }, {}, "not a mechlab checkpoint"},
      {"a checkpoint whose metadata config is broken", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         SafetensorsFile file = load_safetensors(run / c20);
         file.metadata["config"] = "{\"model\": ";
         save_safetensors(run / c20, file.tensors, file.metadata);
       }, {}, "metadata 'config' is not a config"},
      {"a checkpoint whose step metadata is not a number", [&](const fs::path& run, const fs::path&) {
         fs::remove(run / c30);
         SafetensorsFile file = load_safetensors(run / c20);
         file.metadata["step"] = "twenty";
         save_safetensors(run / c20, file.tensors, file.metadata);
       }, {}, "metadata 'step' is not a count"},
      {"provenance.json removed", [&](const fs::path& run, const fs::path&) { fs::remove(run / "provenance.json"); },
       {}, "is not a mechlab run directory"},
      {"provenance.json corrupted", [&](const fs::path& run, const fs::path&) { write_text(run / "provenance.json", "{\"mech"); },
       {}, "is not a mechlab run directory"},
      {"a shorter train.steps", [](const fs::path&, const fs::path&) {}, {"train.steps=10"},
       "train.steps: '"},
      {"--resume with --overwrite", [](const fs::path&, const fs::path&) {}, {"--overwrite"},
       "--resume: and --overwrite contradict each other"},
      {"another config on the command line", [](const fs::path&, const fs::path&) {}, {"model.d_mlp=64"},
       "holds a run of a different config (model.d_mlp"},
  };
  int cases = 0;
  for (const Damage& damage : damages) {
    const fs::path run = dir / ("damaged_" + std::to_string(cases++));
    fs::copy(original, run, fs::copy_options::recursive);
    damage.apply(run, dir.path());
    const auto before = snapshot(run);
    std::vector<std::string> args{"run", config, "--out", run.string(), "--resume"};
    args.insert(args.end(), damage.extra_arguments.begin(), damage.extra_arguments.end());
    ProcessResult result = run_mechlab(args);
    INFO(damage.what << ": " << result.err);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(damage.expected) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(snapshot(run) == before);
  }

  // Without --resume, and while another process holds the lock.
  const fs::path unfinished = dir / "unfinished";
  fs::copy(original, unfinished, fs::copy_options::recursive);
  const auto before = snapshot(unfinished);
  ProcessResult refused = run_mechlab({"run", config, "--out", unfinished.string()});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("holds an unfinished run of this config; pass --resume") != std::string::npos);
  ProcessResult longer = run_mechlab({"run", config, "--out", unfinished.string(), "train.steps=80"});
  CHECK(longer.exit_code == 2);
  CHECK(longer.err.find("pass --resume to extend it to 80 steps") != std::string::npos);
  const int lock = open((unfinished / ".mechlab.lock").c_str(), O_RDWR);
  REQUIRE(lock >= 0);
  REQUIRE(flock(lock, LOCK_EX | LOCK_NB) == 0);
  for (const char* flag : {"--resume", "--overwrite"}) {
    ProcessResult locked = run_mechlab({"run", config, "--out", unfinished.string(), flag});
    INFO(flag << ": " << locked.err);
    CHECK(locked.exit_code == 2);
    CHECK(locked.err.find("is in use by another mechlab process") != std::string::npos);
    CHECK(std::count(locked.err.begin(), locked.err.end(), '\n') == 1);
  }
  close(lock);
  CHECK(snapshot(unfinished) == before);
  note(std::to_string(cases + 4) + " damaged or busy run directories refused");
}

TEST_CASE("forward on inputs it cannot use exits with 2, names the argument, and writes nothing") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const fs::path run = dir / "run";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", run.string(), "train.steps=20"}).exit_code == 0);
  const std::string checkpoint = (run / "checkpoints" / "step_00000020.safetensors").string();
  const fs::path in = dir / "inputs";
  fs::create_directories(in);
  auto tokens = [](Shape shape, int32_t value) {
    return Tensor::from_vector<int32_t>(shape, std::vector<int32_t>(numel(shape), value));
  };
  save_npy(in / "good.npy", tokens({2, 12}, 3));
  save_npy(in / "no_sequences.npy", tokens({0, 12}, 3));
  save_npy(in / "no_positions.npy", tokens({2, 0}, 3));
  save_npy(in / "three_axes.npy", tokens({2, 12, 1}, 3));
  save_npy(in / "floats.npy", Tensor::from_vector<float>({2, 12}, std::vector<float>(24, 1.0f)));
  save_npy(in / "id_99.npy", tokens({2, 12}, 99));
  save_npy(in / "id_negative.npy", tokens({2, 12}, -1));
  save_npy(in / "too_long.npy", tokens({1, 13}, 3));
  save_npy(in / "targets_short.npy", tokens({2, 11}, 3));
  save_npy(in / "targets_id_66.npy", tokens({2, 12}, 66));
  write_text(in / "text.npy", "not an array\n");
  write_text(in / "truncated.npy", read_text(in / "good.npy").substr(0, 100));
  write_text(in / "fortran.npy", hand_made_npy("{'descr': '<i4', 'fortran_order': True, 'shape': (1, 1), }", "abcd"));
  write_text(in / "uint8.npy", hand_made_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1), }", "a"));
  write_text(in / "int64_huge.npy", hand_made_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }",
                                                  little_endian_bytes(1ull << 40, 8)));
  write_text(in / "checkpoint.txt", "not a checkpoint\n");
  fs::copy_file(checkpoint, in / "flipped.safetensors");
  flip_byte(in / "flipped.safetensors", 40);
  write_text(in / "truncated.safetensors", read_text(checkpoint).substr(0, 500));
  fs::create_directories(dir / "out" / "a_directory");

  const std::string good = (in / "good.npy").string(), out = (dir / "out" / "logits.npy").string();
  auto input = [&](const char* name) { return (in / name).string(); };
  struct Case {
    const char* what;
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"no sequences", {checkpoint, "--input", input("no_sequences.npy"), "--out", out}, "--input: "},
      {"no positions", {checkpoint, "--input", input("no_positions.npy"), "--out", out}, "give at least one sequence"},
      {"three axes", {checkpoint, "--input", input("three_axes.npy"), "--out", out}, "expected token ids (B, T)"},
      {"floats for tokens", {checkpoint, "--input", input("floats.npy"), "--out", out}, "must hold integer token ids"},
      {"an id past the vocabulary", {checkpoint, "--input", input("id_99.npy"), "--out", out}, "token id 99, outside the vocabulary [0, 66)"},
      {"a negative id", {checkpoint, "--input", input("id_negative.npy"), "--out", out}, "token id -1, outside"},
      {"longer than n_ctx", {checkpoint, "--input", input("too_long.npy"), "--out", out}, "positions end at n_ctx = 12"},
      {"targets of another shape", {checkpoint, "--input", good, "--out", out, "--targets", input("targets_short.npy"), "--grads", (dir / "out" / "g.safetensors").string()}, "--targets: expected integer ids of shape (2, 12)"},
      {"a target id past the vocabulary", {checkpoint, "--input", good, "--out", out, "--targets", input("targets_id_66.npy"), "--grads", (dir / "out" / "g.safetensors").string()}, "--targets: "},
      {"float targets", {checkpoint, "--input", good, "--out", out, "--targets", input("floats.npy"), "--grads", (dir / "out" / "g.safetensors").string()}, "--targets: expected integer ids"},
      {"text as .npy", {checkpoint, "--input", input("text.npy"), "--out", out}, "--input: "},
      {"a truncated .npy", {checkpoint, "--input", input("truncated.npy"), "--out", out}, "--input: "},
      {"a Fortran-order .npy", {checkpoint, "--input", input("fortran.npy"), "--out", out}, "--input: "},
      {"a uint8 .npy", {checkpoint, "--input", input("uint8.npy"), "--out", out}, "--input: "},
      {"int64 ids beyond int32", {checkpoint, "--input", input("int64_huge.npy"), "--out", out}, "--input: "},
      {"a checkpoint that is text", {input("checkpoint.txt"), "--input", good, "--out", out}, "checkpoint: "},
      {"a checkpoint with a flipped bit", {input("flipped.safetensors"), "--input", good, "--out", out}, "fails its checksum"},
      {"a truncated checkpoint", {input("truncated.safetensors"), "--input", good, "--out", out}, "checkpoint: "},
      {"--out in a missing directory", {checkpoint, "--input", good, "--out", (dir / "nowhere" / "x.npy").string()}, "--out: '"},
      {"--out that is a directory", {checkpoint, "--input", good, "--out", (dir / "out" / "a_directory").string()}, "is a directory; give a file name"},
      {"--out onto the input", {checkpoint, "--input", good, "--out", good}, "is also an input"},
      {"--grads onto --out", {checkpoint, "--input", good, "--out", out, "--targets", good, "--grads", out}, "--grads: is the same file as --out"},
      {"--grads without --targets", {checkpoint, "--input", good, "--out", out, "--grads", (dir / "out" / "g.safetensors").string()}, "--grads"},
      {"a missing input", {checkpoint, "--input", input("missing.npy"), "--out", out}, "--input"},
  };
  for (const Case& c : cases) {
    const auto before = snapshot(dir.path());
    std::vector<std::string> args{"forward"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ProcessResult result = run_mechlab(args);
    INFO(c.what << ": " << result.err);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(c.expected) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(snapshot(dir.path()) == before);
  }
  note(std::to_string(cases.size()) + " unusable forward inputs refused");
}
