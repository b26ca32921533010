#!/usr/bin/python3
"""Make the ONNX test models of streamprove's importer from scikit-learn's digits.

Trains a small MLP and a small CNN on sklearn.datasets.load_digits (8x8 grey images, 10 classes,
real data shipped with scikit-learn), exports both with torch.onnx.export with a dynamic batch
dimension, and writes calibration samples, test inputs, test labels and PyTorch's float logits
on the test inputs as .npy files. CI does not run this; it uses the committed results.

Needs Debian's python3-torch python3-sklearn python3-onnx (run with /usr/bin/python3 from this
directory):  /usr/bin/python3 make_digits.py
"""
import numpy as np
import onnx
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 13
N_TEST = 450
N_CALIB = 128

torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(self.drop(torch.relu(self.bn1(self.fc1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool2 = nn.AvgPool2d(2)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(torch.relu(self.bn2(self.conv2(x))))
        # view(size(0), -1) exports the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain
        # of a dynamic batch, which the importer must fold.
        x = x.view(x.size(0), -1)
        return self.fc(x)


def train(model, x, y, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def export(model, example, path, opset):
    # TrainingMode.PRESERVE on an eval-mode model keeps BatchNormalization as its own node
    # (EVAL would fuse it into the Conv/Gemm inside the exporter), so the importer's own
    # folding is what the tests exercise.
    torch.onnx.export(model, example, path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return sorted({n.op_type for n in m.graph.node})


def main():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=N_TEST, random_state=SEED, stratify=y)
    calib = x_tr[:N_CALIB]

    results = {}
    for name, model, shape, epochs, opset in [
        ("mlp", MLP(), (-1, 64), 40, 13),
        ("cnn", CNN(), (-1, 1, 8, 8), 30, 17),
    ]:
        xt = torch.from_numpy(x_tr.reshape(shape))
        train(model, xt, torch.from_numpy(y_tr), epochs)
        te = x_te.reshape(shape)
        with torch.no_grad():
            logits = model(torch.from_numpy(te)).numpy().astype(np.float32)
        acc = float((logits.argmax(1) == y_te).mean())
        ops = export(model, torch.from_numpy(te[:2]), f"{name}.onnx", opset)
        np.save(f"{name}_calib.npy", calib.reshape(shape))
        np.save(f"{name}_test_x.npy", te)
        np.save(f"{name}_logits.npy", logits)
        results[name] = (acc, ops)
    np.save("test_y.npy", y_te)
    for name, (acc, ops) in results.items():
        print(f"{name}: float test accuracy {acc:.4f} on {N_TEST} images; ops {ops}")


if __name__ == "__main__":
    main()
