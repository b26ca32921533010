#!/usr/bin/python3
"""Export a torchvision ResNet-18 (10 classes, 32x32 input, random weights) for the importer's
ResNet-18 test. The .onnx file is 45 MB, so it is not committed: write it anywhere and point
STREAMPROVE_RESNET18_DIR there. An optional second argument sets the image side (default 32;
224 is ImageNet's, with 8 calibration images instead of 32).

Needs Debian's python3-torch python3-torchvision python3-onnx:
    /usr/bin/python3 make_resnet18.py /tmp/resnet18 [SIDE]
"""
import os
import sys

import numpy as np
import torch
import torchvision


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    side = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(18)
    m = torchvision.models.resnet18(num_classes=10)
    m.eval()
    x = torch.randn(8, 3, side, side)
    calib = torch.randn(32 if side <= 64 else 8, 3, side, side)
    # PRESERVE keeps BatchNormalization nodes for the importer to fold (see make_digits.py).
    torch.onnx.export(m, x, os.path.join(out, "resnet18.onnx"), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "calib.npy"), calib.numpy())
    with torch.no_grad():
        np.save(os.path.join(out, "logits.npy"), m(x).numpy())


if __name__ == "__main__":
    main()
