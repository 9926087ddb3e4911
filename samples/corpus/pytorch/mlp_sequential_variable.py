from torch import nn

classifier = nn.Sequential(
    nn.Linear(16, 64),
    nn.Tanh(),
    nn.Dropout(p=0.2),
    nn.Linear(64, 32),
    nn.Tanh(),
    nn.Linear(32, 3),
)
