"""Knowledge distillation on MNIST-sized images: a frozen teacher, a small student that is trained."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

TEMPERATURE = 4.0
ALPHA = 0.7
STUDENT_WIDTH = 8


class Teacher(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, width * 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(width * 2 * 7 * 7, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.body(x), 1))


class Student(nn.Module):
    def __init__(self, width=STUDENT_WIDTH, hidden=32):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 5, padding=2)
        self.conv2 = nn.Conv2d(width, width * 2, 5, padding=2)
        self.fc1 = nn.Linear(width * 2 * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc2(F.relu(self.fc1(x)))


def distillation_loss(student_logits, teacher_logits, labels):
    soft = F.kl_div(F.log_softmax(student_logits / TEMPERATURE, dim=1),
                    F.softmax(teacher_logits / TEMPERATURE, dim=1), reduction="batchmean")
    return ALPHA * soft * TEMPERATURE ** 2 + (1 - ALPHA) * F.cross_entropy(student_logits, labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--teacher", default="teacher.pt")
    parser.add_argument("--student-width", type=int, default=12)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()

    teacher = Teacher()
    teacher.load_state_dict(torch.load(args.teacher, map_location="cpu"))
    teacher.eval()
    student = Student(width=args.student_width)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    for step in range(args.steps):
        images = torch.randn(32, 1, 28, 28)
        labels = torch.randint(0, 10, (32,))
        with torch.no_grad():
            teacher_logits = teacher(images)
        loss = distillation_loss(student(images), teacher_logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save(student.state_dict(), "student.pt")


if __name__ == "__main__":
    main()
