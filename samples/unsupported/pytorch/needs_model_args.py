# A constructor argument without default: it must come from --model-args.
import torch.nn as nn


class Head(nn.Module):
    def __init__(self, in_features, classes=3):
        super().__init__()
        self.fc = nn.Linear(in_features, classes)

    def forward(self, features):
        return self.fc(features)
