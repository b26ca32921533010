#!/bin/sh
# Reproduce the ResNet-18 figures of the README in one command (from the repository root):
#   sh testdata/onnx/resnet18.sh [DIR [SIDE]]
# exports a torchvision ResNet-18 (random weights, SIDExSIDE images, default 32; 224 is
# ImageNet's; Debian's python3-torchvision) to DIR (default /tmp/streamprove-resnet18[-SIDE]),
# then runs the float reference, the int8 quantization and a one-image proof under
# --mem-budget 256MiB (peak RSS measured in a child process).
set -e
side=${2:-32}
dir=${1:-/tmp/streamprove-resnet18-$side}
[ -f "$dir/resnet18.onnx" ] || (cd testdata/onnx && /usr/bin/python3 make_resnet18.py "$dir" "$side")
STREAMPROVE_RESNET18_DIR=$dir go test ./onnx -run 'TestResNet18' -v -timeout 60m
