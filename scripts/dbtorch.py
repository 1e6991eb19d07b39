"""dbtorch - what the PyTorch sides of dropbench share (scripts/bench-pytorch,
scripts/crosscheck-pytorch): the data sets read from the same files with
numpy, and a PyTorch net built from a dropbench model spec (the "model" list
of a result's or `dropbench show --json`'s config, dropout layers included).

Import it only after the thread variables are set (it imports torch)."""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence


# ---- data: the same files dropbench reads, kept as uint8 ------------------
def read_idx(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gz else open)(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(bytearray(raw), dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def _find(d, name):
    for n in (name, name + ".gz"):
        if os.path.exists(os.path.join(d, n)):
            return os.path.join(d, n)
    raise SystemExit("dbtorch: %s/%s not found (scripts/fetch-data fetches it)" % (d, name))


def load(data, root):
    """data: a dropbench data set name (mnist, fashion, cifar10, wordlang).
    Images: dict(kind="image", xtr, ytr, xte, yte, mean, std) with uint8 NCHW
    pixels; the net sees (x/255 - mean)/std per channel (mean 0, std 1 for
    the MNISTs; the training set's per-channel mean and std for CIFAR-10, as
    dropbench computes them).  Text: dict(kind="text", xtr, ltr, ytr, ...)
    with the bytes of each word zero-padded to 16 and its length."""
    if data in ("mnist", "fashion"):
        d = os.path.join(root, data)
        xtr = read_idx(_find(d, "train-images-idx3-ubyte")).reshape(-1, 1, 28, 28)
        ytr = read_idx(_find(d, "train-labels-idx1-ubyte"))
        xte = read_idx(_find(d, "t10k-images-idx3-ubyte")).reshape(-1, 1, 28, 28)
        yte = read_idx(_find(d, "t10k-labels-idx1-ubyte"))
        return dict(kind="image", xtr=xtr, ytr=ytr, xte=xte, yte=yte,
                    mean=np.zeros(1), std=np.ones(1))
    if data == "cifar10":
        d = os.path.join(root, "cifar10")

        def rd(n):
            r = np.fromfile(os.path.join(d, n), dtype=np.uint8).reshape(-1, 3073)
            return r[:, 1:].reshape(-1, 3, 32, 32).copy(), r[:, 0].copy()
        parts = [rd("data_batch_%d.bin" % i) for i in range(1, 6)]
        xtr = np.concatenate([p[0] for p in parts])
        ytr = np.concatenate([p[1] for p in parts])
        xte, yte = rd("test_batch.bin")
        s1 = xtr.sum(axis=(0, 2, 3), dtype=np.uint64).astype(np.float64)
        s2 = np.zeros(3)
        for c in range(3):
            p = xtr[:, c].astype(np.uint64)
            s2[c] = float((p * p).sum())
        n = xtr.shape[0] * 32 * 32
        mean = s1 / n / 255.0
        std = np.sqrt(s2 / n / 255.0 ** 2 - mean ** 2)
        return dict(kind="image", xtr=xtr, ytr=ytr, xte=xte, yte=yte, mean=mean, std=std)
    if data == "wordlang":
        d = os.path.join(root, "wordlang")

        def rd(n):
            toks, lens, ys = [], [], []
            with open(os.path.join(d, n), "rb") as f:
                for line in f:
                    c, w = line.rstrip(b"\n").split(b"\t")
                    t = np.zeros(16, dtype=np.uint8)
                    t[:len(w)] = np.frombuffer(w, dtype=np.uint8)
                    toks.append(t)
                    lens.append(len(w))
                    ys.append(int(c))
            return np.stack(toks), np.array(lens, dtype=np.int64), np.array(ys, dtype=np.uint8)
        xtr, ltr, ytr = rd("train.tsv")
        xte, lte, yte = rd("test.tsv")
        return dict(kind="text", xtr=xtr, ltr=ltr, ytr=ytr, xte=xte, lte=lte, yte=yte)
    raise SystemExit("dbtorch: unknown data set %r" % data)


def image_batch(ds, x):
    """uint8 NCHW -> float32 tensor as dropbench feeds it."""
    t = torch.from_numpy(x.astype(np.float32) / np.float32(255.0))
    m = torch.tensor(ds["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(ds["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return (t - m) / s


# ---- nets from a dropbench model spec --------------------------------------
class PositionDropout(nn.Module):
    """dropbench's "position" mode: one draw per (example, position), the
    whole vector of a position dropped, kept ones scaled by 1/(1-rate)."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):  # x: (B, T, D)
        if not self.training or self.rate == 0:
            return x
        keep = (torch.rand(x.shape[0], x.shape[1], 1) >= self.rate).to(x.dtype)
        return x * keep / (1.0 - self.rate)


class ChannelDropout(nn.Module):
    """dropbench's "channel" mode on (B, C, H, W) maps: one draw per
    (example, channel), as nn.Dropout2d."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        keep = (torch.rand(x.shape[0], x.shape[1], 1, 1) >= self.rate).to(x.dtype)
        return x * keep / (1.0 - self.rate)


class GaussianDropout(nn.Module):
    """dropbench's "gaussian" mode (Srivastava et al. 2014, section 10):
    multiplicative N(1, rate / (1 - rate)) noise per element in training,
    the identity in evaluation."""

    def __init__(self, rate):
        super().__init__()
        self.sigma = (rate / (1.0 - rate)) ** 0.5

    def forward(self, x):
        if not self.training or self.sigma == 0:
            return x
        return x * (1.0 + self.sigma * torch.randn_like(x))


class LockedDropout(nn.Module):
    """dropbench's "locked" mode on (B, T, D): one draw per (example,
    feature), the same at every step (Gal & Ghahramani 2016)."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        keep = (torch.rand(x.shape[0], 1, x.shape[2]) >= self.rate).to(x.dtype)
        return x * keep / (1.0 - self.rate)


def group_gru_stacks(spec):
    """dropbench writes a stack of L GRU layers as L "gru" layers, all but
    the top one with "sequence": true, and the interlayer site as a dropout
    layer between two of them.  PyTorch's nn.GRU(num_layers=L, dropout=p)
    puts element-wise dropout p on the output sequence of every layer but
    the last: the same placement.  Returns the spec with each such stack
    replaced by one "gru" entry with "num_layers" and "interlayer_rate".
    Stacks with other modes between the layers (locked), or with recurrent
    dropout, have no nn.GRU counterpart: an error."""
    out, i = [], 0
    while i < len(spec):
        L = spec[i]
        if L["type"] != "gru" or not L.get("sequence"):
            if L["type"] == "dropout" and L.get("mode") == "recurrent":
                raise SystemExit("dbtorch: recurrent dropout has no nn.GRU counterpart")
            out.append(L)
            i += 1
            continue
        n, rates, j = 1, [], i + 1
        while True:
            gap = []
            while j < len(spec) and spec[j]["type"] == "dropout":
                gap.append(spec[j])
                j += 1
            if j >= len(spec) or spec[j]["type"] != "gru":
                raise SystemExit("dbtorch: a sequence GRU must feed another GRU")
            if len(gap) > 1 or any(d.get("mode", "element") != "element" for d in gap):
                raise SystemExit("dbtorch: between stacked GRU layers only one element-wise "
                                 "dropout maps to nn.GRU(dropout=p); got %r" % gap)
            rates.append(gap[0]["rate"] if gap else 0.0)
            n += 1
            if spec[j]["hidden"] != L["hidden"]:
                raise SystemExit("dbtorch: nn.GRU stacks need one hidden size")
            top = spec[j]
            j += 1
            if not top.get("sequence"):
                break
        if len(set(rates)) != 1:
            raise SystemExit("dbtorch: nn.GRU(dropout=p) has one rate for all gaps: %r" % rates)
        out.append(dict(type="gru", hidden=L["hidden"], num_layers=n, interlayer_rate=rates[0]))
        i = j
    return out


class Net(nn.Module):
    """The layers of a dropbench spec in order.  Image nets flatten before
    their first dense layer; text nets run embedding -> (dropout) -> GRU over
    each word's real length (packed sequences) -> final state -> ...
    Initialisation as docs/SUITE.md: dense and conv weights and biases
    U(-1/sqrt(fan_in), +), embedding rows N(0, 1), GRU U(-1/sqrt(H), +)."""

    def __init__(self, spec, in_shape):
        super().__init__()
        self.layers = nn.ModuleList()
        self.kinds = []
        shape = tuple(in_shape)  # (C, H, W) or (T,) tokens
        for L in group_gru_stacks(spec):
            t = L["type"]
            if t == "dense":
                n_in = int(np.prod(shape))
                m = nn.Linear(n_in, L["units"])
                b = 1.0 / n_in ** 0.5
                nn.init.uniform_(m.weight, -b, b)
                nn.init.uniform_(m.bias, -b, b)
                self.kinds.append("flatdense" if len(shape) > 1 else "dense")
                shape = (L["units"],)
            elif t == "conv":
                c, h, w = shape
                k, s, p = L["kernel"], L.get("stride", 1), L.get("pad", 0)
                m = nn.Conv2d(c, L["filters"], k, stride=s, padding=p)
                b = 1.0 / (c * k * k) ** 0.5
                nn.init.uniform_(m.weight, -b, b)
                nn.init.uniform_(m.bias, -b, b)
                self.kinds.append("plain")
                shape = (L["filters"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            elif t == "maxpool":
                c, h, w = shape
                k, s, p = L["kernel"], L.get("stride", L["kernel"]), L.get("pad", 0)
                m = nn.MaxPool2d(k, s, padding=p)
                self.kinds.append("plain")
                shape = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            elif t == "relu":
                m = nn.ReLU()
                self.kinds.append("plain")
            elif t == "sigmoid":
                m = nn.Sigmoid()
                self.kinds.append("plain")
            elif t == "batchnorm":
                # PyTorch's defaults are dropbench's: momentum 0.1, eps 1e-5,
                # affine (gamma 1, beta 0), running statistics (0, 1)
                m = nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
                self.kinds.append("plain")
            elif t == "embedding":
                m = nn.Embedding(L["vocab"], L["dim"])
                nn.init.normal_(m.weight, 0.0, 1.0)
                self.kinds.append("plain")
                shape = (shape[0], L["dim"])
            elif t == "gru":
                H = L["hidden"]
                m = nn.GRU(shape[-1], H, num_layers=L.get("num_layers", 1),
                           dropout=L.get("interlayer_rate", 0.0), batch_first=True)
                b = 1.0 / H ** 0.5
                for prm in m.parameters():
                    nn.init.uniform_(prm, -b, b)
                self.kinds.append("gru")
                shape = (H,)
            elif t == "dropout":
                mode, r = L.get("mode", "element"), L["rate"]
                if mode == "element":
                    m = nn.Dropout(r)
                elif mode == "channel":
                    m = ChannelDropout(r)
                elif mode == "position":
                    m = PositionDropout(r)
                elif mode == "locked" and len(shape) == 2:
                    m = LockedDropout(r)
                elif mode == "gaussian":
                    m = GaussianDropout(r)
                else:
                    raise SystemExit("dbtorch: dropout mode %r has no PyTorch counterpart here" % mode)
                self.kinds.append("plain")
            else:
                raise SystemExit("dbtorch: layer type %r has no PyTorch counterpart here" % t)
            self.layers.append(m)

    def forward(self, x, lens=None):
        for k, m in zip(self.kinds, self.layers):
            if k == "flatdense":
                x = m(torch.flatten(x, 1))
            elif k == "gru":
                packed = pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
                _, h = m(packed)
                x = h[-1]
            else:
                x = m(x)
        return x
