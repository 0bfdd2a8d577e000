/** Bluesky documents as a RunEngine emits them (shapes taken from ophyd.sim devices), shared by the bluesky-* unit tests. */
export const RUN = '58bd90a2-730b-4d90-924d-f5a8d12496b2';
export const startDoc = {
  uid: RUN,
  time: 1795325850.81,
  scan_id: 7,
  plan_name: 'scan',
  plan_type: 'generator',
  detectors: ['det'],
  motors: ['motor'],
  num_points: 11,
  versions: { bluesky: '1.15.1', ophyd: '1.11.2' },
  hints: { dimensions: [[['motor'], 'primary']] },
  proposal: 'bs123',
  session: '20261122',
  dataset: '0002',
  sample: { name: 'silver', thickness: 2 },
  scan_type: 'line',
};
export const primaryDescriptor = {
  uid: 'desc-primary',
  run_start: RUN,
  time: 1795325850.82,
  name: 'primary',
  data_keys: {
    det: { source: 'SIM:det', dtype: 'number', shape: [], precision: 3, object_name: 'det' },
    motor: { source: 'SIM:motor', dtype: 'number', shape: [], precision: 3, object_name: 'motor', units: 'mm' },
    motor_setpoint: { source: 'SIM:motor_setpoint', dtype: 'number', shape: [], object_name: 'motor' },
    spectrum: { source: 'SIM:spectrum', dtype: 'array', shape: [3], dtype_numpy: '<i4', object_name: 'mca' },
    label: { source: 'SIM:label', dtype: 'string', shape: [], object_name: 'label' },
    image: { source: 'SIM:image', dtype: 'array', shape: [2, 2], external: 'FILESTORE:', object_name: 'cam' },
  },
  object_keys: { det: ['det'], motor: ['motor', 'motor_setpoint'], mca: ['spectrum'], label: ['label'], cam: ['image'] },
  hints: { det: { fields: ['det'] }, motor: { fields: ['motor'] } },
  configuration: {
    det: {
      data: { det_Imax: 1 },
      timestamps: { det_Imax: 1 },
      data_keys: { det_Imax: { source: 'SIM:det_Imax', dtype: 'integer', shape: [] } },
    },
  },
};
