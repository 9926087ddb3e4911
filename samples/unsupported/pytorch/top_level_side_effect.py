# Running this file would fail at once; a static importer never runs it.
import torch.nn as nn

raise SystemExit("this file was executed")


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, x):
        return self.fc(x)
