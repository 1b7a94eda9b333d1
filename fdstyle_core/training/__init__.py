"""Training styles: the VGG loss network, the perceptual loss, the content batches and the trainer."""
