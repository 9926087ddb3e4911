# A training helper without any network definition.
import torch


def accuracy(outputs, targets):
    return (outputs.argmax(dim=1) == targets).float().mean()
