from torch.nn import LSTM, Linear, Module


class Forecaster(Module):
    def __init__(self, n_features=3, hidden_size=32, num_layers=2, horizon=1):
        super().__init__()
        self.lstm = LSTM(hidden_size=hidden_size, input_size=n_features, dropout=0.1,
                         num_layers=num_layers, batch_first=True)
        self.head = Linear(hidden_size, horizon)

    def forward(self, history):
        output, (h_n, c_n) = self.lstm(history)
        return self.head(output[:, -1, :])
