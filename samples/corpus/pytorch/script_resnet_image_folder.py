"""A small ResNet trained on an image folder (one subfolder per class); depth and width from the command line."""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, num_classes, blocks_per_stage=(1, 1), width=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages, planes = [], width
        for index, count in enumerate(blocks_per_stage):
            out_planes = width * 2 ** index
            for block in range(count):
                stride = 2 if index > 0 and block == 0 else 1
                stages.append(BasicBlock(planes, out_planes, stride))
                planes = out_planes
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(planes, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--width", type=int, default=12)
    parser.add_argument("--stages", type=int, nargs="+", default=[2, 1, 1])
    parser.add_argument("--amp", action="store_true")
    return parser.parse_args()


def main():
    args = parse_args()
    class_names = sorted(d for d in os.listdir(args.data) if os.path.isdir(os.path.join(args.data, d)))
    model = SmallResNet(len(class_names), blocks_per_stage=tuple(args.stages), width=args.width)
    model = torch.compile(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    model.train()
    for _ in range(10):
        images, labels = torch.randn(8, 3, 32, 32), torch.randint(0, len(class_names), (8,))
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
