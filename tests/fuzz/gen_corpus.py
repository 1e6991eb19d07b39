#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (committed; rerun
only to regenerate them).  Usage: tests/fuzz/gen_corpus.py [RESULTS_DIR]
RESULTS_DIR: real result files to seed fuzz_result with (optional)."""
import glob, gzip, json, os, struct, sys, zlib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(b):
    return gzip.compress(b, mtime=0)


def idx(dims, fill=7):
    n = 1
    for d in dims:
        n *= d
    hdr = struct.pack(">I", 0x800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    return hdr + bytes((i * fill) % 10 for i in range(n))


# IDX: byte 0 = rank - 1
for r, dims in ((1, [10]), (2, [3, 4]), (3, [2, 28, 28]), (3, [1, 5, 5])):
    put("fuzz_idx", "plain%d_%s" % (r, "x".join(map(str, dims))), bytes([r - 1]) + idx(dims))
    put("fuzz_idx", "gzip%d_%s" % (r, "x".join(map(str, dims))), bytes([r - 1]) + gz(idx(dims)))
    put("fuzz_idx_gz", "ok%d_%s" % (r, "x".join(map(str, dims))), bytes([r - 1, 0]) + idx(dims))
put("fuzz_idx", "truncated", bytes([2]) + idx([2, 28, 28])[:100])
put("fuzz_idx", "gzip_truncated", bytes([0]) + gz(idx([50]))[:20])
put("fuzz_idx", "badmagic", bytes([0]) + b"\x00\x00\x09\x01" + idx([4])[4:])
put("fuzz_idx_gz", "cut", bytes([0, 5]) + idx([10]))
put("fuzz_idx_gz", "twomembers", bytes([1, 0x40]) + idx([2, 2]))

# CIFAR: byte 0 = file (0..5), then records
def rec(label, seed):
    return bytes([label]) + bytes((seed * 31 + i * 7) % 256 for i in range(3072))
put("fuzz_cifar", "one_record", b"\x00" + rec(1, 1))
put("fuzz_cifar", "two_records_test", b"\x05" + rec(9, 2) + rec(0, 3))
put("fuzz_cifar", "bad_label", b"\x02" + rec(10, 4))
put("fuzz_cifar", "partial", b"\x01" + rec(1, 5)[:1000])
put("fuzz_cifar", "constant", b"\x00" + bytes([4]) + bytes(3072))

# wordlang: byte 0 bit 0 = test file
put("fuzz_wordlang", "ascii", b"\x00" + b"0\tabc\n1\thello\n9\tzzzzzzzzzzzzzzzz\n")
put("fuzz_wordlang", "utf8", b"\x01" + "3\tstra\u00dfe\n4\t\u00e9t\u00e9\n5\t\u043c\u0438\u0440\n".encode())
put("fuzz_wordlang", "no_newline", b"\x00" + b"0\tabc")
put("fuzz_wordlang", "bad_class", b"\x00" + b"x\tabc\n")
put("fuzz_wordlang", "two_tabs", b"\x01" + b"1\tab\tc\n")

# PNG strips (1024 wide, 8-bit RGB) and label files
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

def png(w, h, ctype=2, interlace=0, depth=8):
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = b"".join(b"\x00" + bytes((r * 53 + i * 7) & 255 for i in range(w * ch * depth // 8)) for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
            + (chunk(b"PLTE", bytes(range(48))) if ctype == 3 else b"")
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
put("fuzz_png", "strip_1row", png(1024, 1))
put("fuzz_png", "strip_3rows", png(1024, 3))
put("fuzz_png", "narrow", png(1000, 2))
put("fuzz_png", "gray", png(1024, 1, ctype=0))
put("fuzz_png", "interlaced", png(1024, 1, interlace=1))
put("fuzz_png", "truncated", png(1024, 2)[:200])
put("fuzz_png", "labels", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 0]")
put("fuzz_png", "labels_bad", "[1, 2.5, 12]")

# configs: the presets and variants
for p in sorted(glob.glob(os.path.join(root, "configs", "*.json"))):
    put("fuzz_config", os.path.basename(p), open(p, "rb").read())
# the reproduction presets (docs/REPRO.md): every recipe field
for p in sorted(glob.glob(os.path.join(root, "configs", "repro", "*.json"))):
    put("fuzz_config", "repro-" + os.path.basename(p), open(p, "rb").read())
base = json.load(open(os.path.join(root, "configs", "mnist-mlp.json")))
v = dict(base, strategy="hinton", rate="0.1,0.3")
put("fuzz_config", "mlp_rates", json.dumps(v))
v = dict(base, model=[{"type": "dropout", "rate": 0.2, "mode": "element"}] + base["model"])
put("fuzz_config", "mlp_user_dropout", json.dumps(v))
v = dict(base, train=dict(base["train"], lr="1e999"))
put("fuzz_config", "lr_string", json.dumps(v))
put("fuzz_config", "lr_inf", json.dumps(base).replace('"lr": 0.05', '"lr": 1e999'))
v = dict(base, train=dict(base["train"], schedule={"type": "step", "every": 2, "gamma": 0.5}))
put("fuzz_config", "mlp_step", json.dumps(v))
lenet = json.load(open(os.path.join(root, "configs", "mnist-lenet.json")))
put("fuzz_config", "lenet_convpool", json.dumps(dict(lenet, strategy="conv+pool", rate=0.3)))

# sweep files
for p in sorted(glob.glob(os.path.join(root, "configs", "sweeps", "*.json"))):
    put("fuzz_sweep", os.path.basename(p), open(p, "rb").read())
put("fuzz_sweep", "grid", json.dumps({
    "name": "g", "seeds": [0], "epochs": 1,
    "grid": [{"tasks": ["mnist-mlp"], "strategies": ["none", "hinton"], "rates": [None, 0.3, "0.1,0.2"]},
             {"tasks": ["wordlang-gru"], "strategies": ["embedding"], "overrides": {"lr": [0.1, 0.2], "epochs": [1, 2]}}]}))
put("fuzz_sweep", "bad_key", '{"name": "x", "tasks": ["mnist-mlp"], "strategies": ["none"], "seeds": [0], "bogus": 1}')

# result files: real ones (NUL separates files of one directory)
if len(sys.argv) > 1:
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))
    for p in files:
        put("fuzz_result", os.path.basename(p)[:-5], open(p, "rb").read())
    if len(files) >= 2:
        put("fuzz_result", "pair", open(files[0], "rb").read() + b"\0" + open(files[-1], "rb").read())
put("fuzz_result", "minimal", json.dumps({"status": "complete", "config": {"task": "t", "strategy": "none", "seed": 0},
                                          "final": {"test_error_pct": 1.5}, "epochs": [{"test_error_pct": 2}]}))

# fuzz_checkpoint: checkpoints of fuzz_checkpoint.c's fixed run (4 params,
# one dropout site, 5 examples, 3 epochs x 9 numbers, 2 time counters).
import hashlib


def code_version():
    """DB_CODE_VERSION, which a checkpoint must carry to be accepted."""
    with open(os.path.join(root, "harness", "train", "runcfg.h")) as f:
        for line in f:
            if line.startswith("#define DB_CODE_VERSION"):
                return line.split('"')[1].encode()
    raise SystemExit("gen_corpus.py: DB_CODE_VERSION not found in harness/train/runcfg.h")


CODE = code_version()


def ckpt(done=1, run_id=b"0123456789abcdef", code=CODE, idx=(4, 2, 0, 1, 3), nparams=4,
         kernels=b"Haswell/direct-avx2+winograd", fmt=2):
    pay = struct.pack("<%df" % (3 * nparams), *[0.25 * i for i in range(3 * nparams)])
    pay += struct.pack("<8Q", *range(1, 9))                    # order + 1 dropout stream
    pay += struct.pack("<5I", *idx) + struct.pack("<Q", 0xcbf29ce484222325)
    pay += struct.pack("<27d", *[float(i) for i in range(27)]) + struct.pack("<2d", 1.5, 0.5)
    pay += struct.pack("<4d", 0.1, 0.2, 0.3, 0.4)
    h = b"DBCKPT\r\n" + struct.pack("<II", fmt, 0x01020304)
    h += run_id.ljust(24, b"\0") + code.ljust(32, b"\0")
    h += struct.pack("<8Q", nparams, 5, 1, 3, 9, 2, done, len(pay))
    k = kernels.ljust(64, b"\0") + bytes(24)                 # bytes 168..256
    d = hashlib.sha256(h + k + pay).digest()
    return h + d + k + pay


put("fuzz_checkpoint", "valid_epoch1", ckpt())
put("fuzz_checkpoint", "valid_epoch2", ckpt(done=2))
put("fuzz_checkpoint", "done_all", ckpt(done=3))
put("fuzz_checkpoint", "other_run", ckpt(run_id=b"fedcba9876543210"))
put("fuzz_checkpoint", "old_code", ckpt(code=str(int(CODE) - 1).encode()))
put("fuzz_checkpoint", "order_out_of_range", ckpt(idx=(4, 2, 9, 1, 3)))
put("fuzz_checkpoint", "other_sizes", ckpt(nparams=5))
put("fuzz_checkpoint", "truncated", ckpt()[:300])
put("fuzz_checkpoint", "header_only", ckpt()[:256])
put("fuzz_checkpoint", "other_kernels", ckpt(kernels=b"SkylakeX/direct-avx2+winograd"))
put("fuzz_checkpoint", "format1", ckpt(fmt=1))
c = bytearray(ckpt())
c[250] ^= 1
put("fuzz_checkpoint", "flipped_bit", bytes(c))
put("fuzz_checkpoint", "empty", b"")
