#!/bin/bash
# One-batch GPU probe: JAX train step with and without the in-model augmentation, and 3 epochs on the PyTorch backend.
# Needs a bundle (brain-mri bundle) and, where keras is missing, its wheels in .whl/; writes $OUT/*.log.
[ -d .whl ] && { python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 3; }
: "${OUT:=/tmp}"  # the device tool sets OUT; elsewhere the logs go to /tmp
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
echo '{"config": {"arch":"resnet_small","name":"probe_torch","epochs":3,"model_kwargs":{"width":16,"stem_pool":false}}}' > /tmp/p.json
(KERAS_BACKEND=torch timeout 105 python3 -m helpers.cli train --bundle ${BUNDLE:-data/processed/bundle-leakfree-128.npz} --config /tmp/p.json --out-dir /tmp/m > $OUT/torch.log 2>&1) &
(KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false timeout 105 python3 -c "
import time, numpy as np, keras
from helpers.modeling.architectures import build_model
x=np.random.rand(64,128,128,1).astype('float32')*255; y=keras.utils.to_categorical(np.random.randint(0,4,64),4)
for aug in (0,1):
  m=build_model('resnet_small',128,4,width=16,stem_pool=False,augment=aug); m.compile(optimizer='adamw', loss=keras.losses.CategoricalCrossentropy(from_logits=True))
  t=time.time(); m.train_on_batch(x,y); t1=time.time()-t
  t=time.time(); [m.train_on_batch(x,y) for _ in range(10)]; t2=(time.time()-t)/10
  print('jax augment',aug,'first step %.1fs, then %.1f ms/step'%(t1,1000*t2), flush=True)
" > $OUT/jax.log 2>&1) &
wait; cat $OUT/*.log | grep -v -i warn | tail -30
