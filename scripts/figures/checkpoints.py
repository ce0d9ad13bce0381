"""Reading mechlab checkpoints (safetensors) with NumPy alone, for the figure scripts that run a model themselves."""
import json
import pathlib

import numpy as np


def load_checkpoint(path):
    """{name: array} from a safetensors file (f32 / f64 tensors)."""
    raw = pathlib.Path(path).read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    data = raw[8 + size:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": np.float32, "F64": np.float64}[entry["dtype"]]
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"]).astype(np.float64)
    return out


def checkpoint_config(path):
    """The run config a checkpoint keeps in its safetensors metadata, read from the header alone."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        return json.loads(json.loads(f.read(size))["__metadata__"]["config"])
