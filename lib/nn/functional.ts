// nn.functional: the functional forms of the layers and losses, where PyTorch users look for them
// (torch.nn.functional as F). Each is the op from lib/ops, not a second implementation.
export {
  relu, sigmoid, tanh, softmax, logSoftmax, leakyRelu, gelu, elu, silu, softplus, mish,
  linear, dropout, layerNorm, batchNorm,
  crossEntropy, nllLoss, mseLoss, bceLoss, bceWithLogitsLoss, l1Loss, smoothL1Loss, huberLoss, klDiv, oneHot,
} from '../ops/index.js';
