# in_features declared as 400 but the flattened feature map has 256 values.
import torch.nn as nn

model = nn.Sequential(
    nn.Conv2d(1, 4, 3),
    nn.Flatten(),
    nn.Linear(400, 10),
)
