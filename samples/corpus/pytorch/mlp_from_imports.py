from torch.nn import Dropout, Linear, Module, ReLU


class Regressor(Module):
    def __init__(self, n_inputs=10, n_hidden=48, p_drop=0.1):
        super().__init__()
        # keyword arguments in whatever order they came to mind
        self.hidden = Linear(out_features=n_hidden, in_features=n_inputs)
        self.act = ReLU()
        self.drop = Dropout(p=p_drop)
        self.out = Linear(bias=True, out_features=1, in_features=n_hidden)

    def forward(self, features):
        h = self.drop(self.act(self.hidden(features)))
        return self.out(h)
