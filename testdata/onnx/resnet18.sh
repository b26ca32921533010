#!/bin/sh
# Reproduce the ResNet-18 figures of the README in one command (from the repository root):
#   sh testdata/onnx/resnet18.sh [DIR]
# exports a torchvision ResNet-18 (random weights, 32x32, Debian's python3-torchvision) to DIR
# (default /tmp/streamprove-resnet18), then runs the float reference, the int8 quantization and
# a one-image proof under --mem-budget 256MiB (peak RSS measured in a child process).
set -e
dir=${1:-/tmp/streamprove-resnet18}
[ -f "$dir/resnet18.onnx" ] || (cd testdata/onnx && /usr/bin/python3 make_resnet18.py "$dir")
STREAMPROVE_RESNET18_DIR=$dir go test ./onnx -run 'TestResNet18' -v -timeout 60m
